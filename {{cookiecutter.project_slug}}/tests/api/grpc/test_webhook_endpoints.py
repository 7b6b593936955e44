"""Every RPC of WebhookEndpointsService over TCP, the same whichever database stores them."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from uuid import UUID, uuid4

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.api.grpc.server import RunningServer, running_server
from {{ cookiecutter.package_name }}.application.webhook_endpoints import MAX_DISABLED_REASON_LENGTH
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.domain.webhooks import SECRET_BYTES
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from tests.api.grpc.calls import ErrorDetails, details_of, new_order, server_settings
from tests.api.grpc.guarded import failure
from tests.support import access
from tests.support.webhook_endpoints import (
    LOOPBACK_URL,
    PUBLIC_URL,
    REFUSED_URLS,
    give_up_due_deliveries,
    production_destinations,
)

ACTIVE = webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_ACTIVE
DISABLED = webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_DISABLED
PENDING = webhooks_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
FAILED = webhooks_pb2.WEBHOOK_DELIVERY_STATUS_FAILED


class Caller:
    """The webhook endpoints and orders stubs, as a caller that may do everything."""

    def __init__(self, channel: aio.Channel, credentials: Credentials | None) -> None:
        self.stub = webhooks_pb2_grpc.WebhookEndpointsServiceStub(channel)
        self.orders = OrdersClient(channel, metadata=access.metadata(credentials))
        self.metadata = access.metadata(credentials)

    async def create(
        self, url: str = LOOPBACK_URL, *event_types: str, description: str = ""
    ) -> webhooks_pb2.CreateWebhookEndpointResponse:
        endpoint = webhooks_pb2.WebhookEndpoint(
            url=url, event_types=event_types, description=description
        )
        request = webhooks_pb2.CreateWebhookEndpointRequest(endpoint=endpoint)
        return await self.stub.CreateWebhookEndpoint(request, metadata=self.metadata)

    async def get(self, endpoint_id: str) -> webhooks_pb2.WebhookEndpoint:
        request = webhooks_pb2.GetWebhookEndpointRequest(id=endpoint_id)
        return (await self.stub.GetWebhookEndpoint(request, metadata=self.metadata)).endpoint

    async def update(
        self, endpoint: webhooks_pb2.WebhookEndpoint, *paths: str
    ) -> webhooks_pb2.WebhookEndpoint:
        request = webhooks_pb2.UpdateWebhookEndpointRequest(
            endpoint=endpoint, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        return (await self.stub.UpdateWebhookEndpoint(request, metadata=self.metadata)).endpoint

    async def rotate(
        self, endpoint_id: str, overlap: timedelta | None = None, etag: str = ""
    ) -> webhooks_pb2.RotateWebhookEndpointSecretResponse:
        request = webhooks_pb2.RotateWebhookEndpointSecretRequest(id=endpoint_id, etag=etag)
        if overlap is not None:
            request.overlap.CopyFrom(duration_pb2.Duration(seconds=int(overlap.total_seconds())))
        return await self.stub.RotateWebhookEndpointSecret(request, metadata=self.metadata)

    async def deliveries(
        self,
        endpoint_id: str,
        status: webhooks_pb2.WebhookDeliveryStatus.ValueType = (
            webhooks_pb2.WEBHOOK_DELIVERY_STATUS_UNSPECIFIED
        ),
    ) -> list[webhooks_pb2.WebhookDelivery]:
        request = webhooks_pb2.ListWebhookDeliveriesRequest(endpoint_id=endpoint_id, status=status)
        response = await self.stub.ListWebhookDeliveries(request, metadata=self.metadata)
        return list(response.deliveries)

    async def place_and_confirm(self) -> str:
        """An order placed and confirmed: two events, order.created and order.updated."""
        order = await self.orders.create_order(new_order("webhooks"))
        await self.orders.update_order(
            orders_pb2.Order(id=order.id, status=orders_pb2.ORDER_STATUS_CONFIRMED)
        )
        return order.id


async def refusal(call: object) -> ErrorDetails:
    return details_of(await failure(call))


@pytest.fixture
def caller(channel: aio.Channel, credentials: Credentials | None) -> Caller:
    return Caller(channel, credentials)


@dataclass
class Own:
    """A server on a database of this test alone, and a caller that may do everything."""

    server: RunningServer
    caller: Caller


@pytest.fixture
async def own(
    fresh_database_settings: Settings, credentials: Credentials | None
) -> AsyncIterator[Own]:
    """The service on a database of its own: listings and claims see this test's rows only."""
    settings = fresh_database_settings.model_copy(
        update={
            "log_requests": False,
            "webhooks_allow_http": True,
            "webhooks_allow_private_addresses": True,
        }
    )
    async with (
        running_server(server_settings(settings)) as running,
        open_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        yield Own(running, Caller(channel, credentials))


async def test_create_returns_the_endpoint_and_its_secret_once(caller: Caller) -> None:
    created = await caller.create(LOOPBACK_URL, "order.created.v1", description="crm")

    endpoint = created.endpoint
    assert (endpoint.url, endpoint.description) == (LOOPBACK_URL, "crm")
    assert list(endpoint.event_types) == ["order.created.v1"]
    assert endpoint.status == ACTIVE
    assert (endpoint.version, endpoint.etag) == (1, '"v1"')
    assert created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"))) == SECRET_BYTES >= 24
    assert [secret.hint for secret in endpoint.secrets] == [f"{created.secret[:10]}..."]
    assert not endpoint.secrets[0].HasField("expire_time")


async def test_reads_never_show_the_secret(caller: Caller) -> None:
    created = await caller.create()

    read = await caller.get(created.endpoint.id)
    listed = await caller.stub.ListWebhookEndpoints(
        webhooks_pb2.ListWebhookEndpointsRequest(page_size=100), metadata=caller.metadata
    )

    assert read == created.endpoint
    for message in (read, listed):
        assert created.secret.encode() not in message.SerializeToString()
        assert created.secret.removeprefix("whsec_") not in str(message)


async def test_invalid_create_names_the_fields(caller: Caller) -> None:
    error = await refusal(caller.create("", "order.shipped.v9", description="d" * 501))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_FAILED"
    assert set(error.violations) == {
        "endpoint.url",
        "endpoint.event_types",
        "endpoint.description",
    }


async def test_a_description_with_a_control_character_is_invalid(caller: Caller) -> None:
    error = await refusal(caller.create(description="a\x00b"))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.violations) == {"endpoint.description"}


async def test_refused_destinations_are_invalid_and_nothing_is_stored(
    fresh_database_settings: Settings, credentials: Credentials | None
) -> None:
    strict = server_settings(production_destinations(fresh_database_settings))
    async with (
        running_server(strict) as running,
        open_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        strict_caller = Caller(channel, credentials)
        errors = {url: await refusal(strict_caller.create(url)) for url in REFUSED_URLS}
        listed = await strict_caller.stub.ListWebhookEndpoints(
            webhooks_pb2.ListWebhookEndpointsRequest(), metadata=strict_caller.metadata
        )
        accepted = await strict_caller.create(PUBLIC_URL)

    for url, error in errors.items():
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, url
        assert list(error.violations) == ["endpoint.url"], url
        assert "cannot receive webhooks" in error.violations["endpoint.url"], url
    assert list(listed.endpoints) == []
    assert accepted.endpoint.url == PUBLIC_URL


async def test_list_pages_newest_first(own: Own) -> None:
    created = [(await own.caller.create()).endpoint.id for _ in range(3)]
    stub, metadata = own.caller.stub, own.caller.metadata

    first = await stub.ListWebhookEndpoints(
        webhooks_pb2.ListWebhookEndpointsRequest(page_size=2), metadata=metadata
    )
    second = await stub.ListWebhookEndpoints(
        webhooks_pb2.ListWebhookEndpointsRequest(page_size=2, page_token=first.next_page_token),
        metadata=metadata,
    )

    assert [e.id for e in (*first.endpoints, *second.endpoints)] == created[::-1]
    assert first.next_page_token
    assert not second.next_page_token


async def test_get_unknown_or_malformed_ids(caller: Caller) -> None:
    missing = await refusal(caller.get(str(uuid4())))
    malformed = await refusal(caller.get("not-a-uuid"))

    assert missing.code == grpc.StatusCode.NOT_FOUND
    assert malformed.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(malformed.violations) == ["id"]


async def test_update_changes_the_masked_fields_with_an_etag(caller: Caller) -> None:
    created = (await caller.create(description="crm")).endpoint

    changed = await caller.update(
        webhooks_pb2.WebhookEndpoint(
            id=created.id,
            etag=created.etag,
            description="ignored",
            event_types=["order.updated.v1"],
        ),
        "event_types",
    )
    stale = await refusal(
        caller.update(
            webhooks_pb2.WebhookEndpoint(id=created.id, etag=created.etag, description="x"),
            "description",
        )
    )

    assert list(changed.event_types) == ["order.updated.v1"]
    assert changed.description == "crm"
    assert (changed.version, changed.etag) == (2, '"v2"')
    assert stale.code == grpc.StatusCode.ABORTED
    assert stale.reason == "VERSION_MISMATCH"


async def test_update_checks_a_new_url_and_names_unknown_mask_paths(caller: Caller) -> None:
    created = (await caller.create()).endpoint

    refused = await refusal(
        caller.update(
            webhooks_pb2.WebhookEndpoint(id=created.id, url="https://169.254.169.254/"), "url"
        )
    )
    unknown = await refusal(caller.update(webhooks_pb2.WebhookEndpoint(id=created.id), "secrets"))

    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(refused.violations) == ["endpoint.url"]
    assert list(unknown.violations) == ["update_mask"]
    assert (await caller.get(created.id)).version == 1


async def test_disable_with_a_reason_then_enable(caller: Caller) -> None:
    created = (await caller.create()).endpoint

    disabled = await caller.update(
        webhooks_pb2.WebhookEndpoint(
            id=created.id, status=DISABLED, disabled_reason="receiver in maintenance"
        )
    )
    enabled = await caller.update(webhooks_pb2.WebhookEndpoint(id=created.id, status=ACTIVE))

    assert (disabled.status, disabled.disabled_reason) == (DISABLED, "receiver in maintenance")
    assert (enabled.status, enabled.disabled_reason) == (ACTIVE, "")
    assert enabled.version == 3


@pytest.mark.parametrize("reason", ["bell\x07rung", "r" * (MAX_DISABLED_REASON_LENGTH + 1)])
async def test_a_disabled_reason_that_is_not_short_free_text_is_invalid(
    caller: Caller, reason: str
) -> None:
    created = (await caller.create()).endpoint

    error = await refusal(
        caller.update(
            webhooks_pb2.WebhookEndpoint(id=created.id, status=DISABLED, disabled_reason=reason)
        )
    )

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.violations) == {"endpoint.disabled_reason"}
    assert (await caller.get(created.id)).status == ACTIVE


async def test_rotation_returns_a_new_secret_and_both_sign_until_the_overlap_ends(
    caller: Caller, server: RunningServer
) -> None:
    created = await caller.create()

    rotated = await caller.rotate(
        created.endpoint.id, timedelta(hours=1), etag=created.endpoint.etag
    )

    assert rotated.secret.startswith("whsec_")
    assert rotated.secret != created.secret
    old, new = rotated.endpoint.secrets
    assert new.hint == f"{rotated.secret[:10]}..."
    ends = old.expire_time.ToDatetime(tzinfo=UTC)
    assert timedelta(minutes=59) < ends - utc_now() <= timedelta(hours=1)
    read = await caller.get(created.endpoint.id)
    assert rotated.secret not in str(read)
    stored = await server.container.webhooks.endpoints.get(UUID(created.endpoint.id))
    assert stored is not None
    assert [s.value for s in stored.signing_secrets(utc_now())] == [
        created.secret,
        rotated.secret,
    ]
    assert [s.value for s in stored.signing_secrets(ends)] == [rotated.secret]


async def test_rotation_overlap_is_bounded_by_the_setting(
    caller: Caller, settings: Settings
) -> None:
    created = await caller.create()
    longest = timedelta(seconds=settings.webhooks_secret_rotation_overlap_seconds)

    too_long = await refusal(caller.rotate(created.endpoint.id, longest + timedelta(seconds=1)))
    stale = await refusal(caller.rotate(created.endpoint.id, etag='"v9"'))
    by_default = await caller.rotate(created.endpoint.id)

    assert too_long.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(too_long.violations) == ["overlap"]
    assert stale.code == grpc.StatusCode.ABORTED
    ends = by_default.endpoint.secrets[0].expire_time.ToDatetime(tzinfo=UTC)
    assert ends - utc_now() > longest - timedelta(minutes=1)


async def test_delete_removes_the_endpoint(caller: Caller) -> None:
    created = (await caller.create()).endpoint
    delete = caller.stub.DeleteWebhookEndpoint

    stale = await refusal(
        delete(
            webhooks_pb2.DeleteWebhookEndpointRequest(id=created.id, etag='"v9"'),
            metadata=caller.metadata,
        )
    )
    await delete(
        webhooks_pb2.DeleteWebhookEndpointRequest(id=created.id, etag=created.etag),
        metadata=caller.metadata,
    )

    assert stale.code == grpc.StatusCode.ABORTED
    assert (await refusal(caller.get(created.id))).code == grpc.StatusCode.NOT_FOUND


async def test_order_changes_are_listed_as_deliveries_of_subscribed_endpoints(own: Own) -> None:
    every = (await own.caller.create()).endpoint
    updates = (await own.caller.create(LOOPBACK_URL, "order.updated.v1")).endpoint

    order_id = await own.caller.place_and_confirm()

    to_every = await own.caller.deliveries(every.id)
    to_updates = await own.caller.deliveries(updates.id)
    assert [d.event_type for d in to_every] == ["order.updated.v1", "order.created.v1"]
    assert all(d.status == PENDING and d.attempts == 0 for d in to_every)
    assert all(order_id in d.body for d in to_every)
    assert [d.message_id for d in to_updates] == [to_every[0].message_id]


async def test_a_failed_delivery_shows_its_attempts_and_is_replayed(own: Own) -> None:
    endpoint = (await own.caller.create()).endpoint
    await own.caller.place_and_confirm()
    (failed, _) = await give_up_due_deliveries(own.server.container.webhooks)
    stub, metadata = own.caller.stub, own.caller.metadata

    listed = await own.caller.deliveries(endpoint.id, FAILED)
    attempts = await stub.ListWebhookDeliveryAttempts(
        webhooks_pb2.ListWebhookDeliveryAttemptsRequest(
            endpoint_id=endpoint.id, delivery_id=str(failed.id)
        ),
        metadata=metadata,
    )
    replay = webhooks_pb2.ReplayWebhookDeliveryRequest(endpoint_id=endpoint.id, id=str(failed.id))
    replayed = await stub.ReplayWebhookDelivery(replay, metadata=metadata)
    again = await refusal(stub.ReplayWebhookDelivery(replay, metadata=metadata))

    assert len(listed) == 2
    (attempt,) = attempts.attempts
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 500, False)
    assert attempt.response_excerpt == "the receiver is down"
    assert attempt.duration.ToTimedelta() == timedelta(seconds=0.25)
    assert replayed.delivery.status == PENDING
    assert replayed.delivery.attempts == 0
    assert replayed.delivery.message_id == failed.message_id
    assert again.code == grpc.StatusCode.FAILED_PRECONDITION
    assert again.reason == "INVALID_STATE_TRANSITION"


async def test_every_failed_delivery_of_an_endpoint_is_replayed(own: Own) -> None:
    endpoint = (await own.caller.create()).endpoint
    await own.caller.place_and_confirm()
    await give_up_due_deliveries(own.server.container.webhooks)
    replay_all = webhooks_pb2.ReplayFailedWebhookDeliveriesRequest(endpoint_id=endpoint.id)

    replayed = await own.caller.stub.ReplayFailedWebhookDeliveries(
        replay_all, metadata=own.caller.metadata
    )

    assert replayed.replayed == 2
    assert [d.status for d in await own.caller.deliveries(endpoint.id)] == [PENDING, PENDING]
    await own.caller.update(webhooks_pb2.WebhookEndpoint(id=endpoint.id, status=DISABLED))
    disabled = await refusal(
        own.caller.stub.ReplayFailedWebhookDeliveries(replay_all, metadata=own.caller.metadata)
    )
    assert disabled.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_delivery_is_found_under_its_own_endpoint_only(own: Own) -> None:
    endpoint = (await own.caller.create()).endpoint
    other = (await own.caller.create(LOOPBACK_URL, "order.deleted.v1")).endpoint
    await own.caller.place_and_confirm()
    delivery = (await own.caller.deliveries(endpoint.id))[0]

    error = await refusal(
        own.caller.stub.GetWebhookDelivery(
            webhooks_pb2.GetWebhookDeliveryRequest(endpoint_id=other.id, id=delivery.id),
            metadata=own.caller.metadata,
        )
    )
    found = await own.caller.stub.GetWebhookDelivery(
        webhooks_pb2.GetWebhookDeliveryRequest(endpoint_id=endpoint.id, id=delivery.id),
        metadata=own.caller.metadata,
    )

    assert error.code == grpc.StatusCode.NOT_FOUND
    assert found.delivery == delivery
