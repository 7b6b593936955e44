"""The deliverer against real receivers on loopback and the real database.

Every count comes from the receivers' own logs; every signature is checked
with the reference library.
"""

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.container import Container, build_container, open_webhook_deliverer
from {{ cookiecutter.package_name }}.domain.events import OrderEventType
from {{ cookiecutter.package_name }}.domain.orders import to_stored_precision
from {{ cookiecutter.package_name }}.domain.webhooks import DeliveryStatus, EndpointStatus
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.webhooks import DeliveryFilter
from {{ cookiecutter.package_name }}.webhooks.delivery import Outcome, WebhookDeliverer
from {{ cookiecutter.package_name }}.webhooks.destinations import DestinationPolicy
from tests.support.downstream import FAILING, OK, Answer, MisbehavingServer
from tests.support.waiting import eventually
from tests.support.webhooks import (
    attempts_of,
    deliveries_of,
    only_delivery,
    place_order,
    rotate,
    subscribe,
    verified,
)

# A public address (example.com's), only ever checked here: no test connects to it.
PUBLIC = "93.184.215.14"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def gaps(server: MisbehavingServer) -> list[float]:
    """Seconds between consecutive requests the receiver got."""
    times = [request.at for request in server.received]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


@asynccontextmanager
async def running(deliverer: WebhookDeliverer) -> AsyncIterator[asyncio.Event]:
    """The deliverer's loop in the background; stopped (and waited for) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await task


@asynccontextmanager
async def delivering(
    settings: Settings, *, policy: DestinationPolicy | None = None, **changes: object
) -> AsyncIterator[tuple[Container, WebhookDeliverer]]:
    """A container and deliverer on ``settings`` with ``changes``."""
    async with (
        build_container(settings.model_copy(update=changes)) as container,
        open_webhook_deliverer(container, policy=policy) as deliverer,
    ):
        yield container, deliverer


async def delivery_in(
    container: Container, endpoint_id: object, status: DeliveryStatus, *, seconds: float = 15.0
) -> None:
    """Wait until the endpoint's one delivery is in ``status``."""

    async def reached() -> bool:
        return (await only_delivery(container, endpoint_id)).status is status  # type: ignore[arg-type]

    await eventually(reached, seconds=seconds)


async def test_a_delivery_is_signed_so_that_the_reference_library_verifies_it(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    order = await place_order(webhook_container)
    delivery = await only_delivery(webhook_container, endpoint.id)
    succeeded = sample("webhook_deliveries_total", outcome="succeeded")

    assert await deliverer.deliver_once() == [Outcome.SUCCEEDED]

    (received,) = receiver.received
    assert (received.method, received.path) == ("POST", "/hooks")
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"] == delivery.message_id
    signed_at = int(received.headers["webhook-timestamp"])
    assert abs(signed_at - datetime.now(UTC).timestamp()) < 5
    payload = verified(received, endpoint.secrets[0].value)
    assert payload == json.loads(delivery.body)
    assert payload["type"] == delivery.event_type == OrderEventType.CREATED.value  # type: ignore[index]
    assert payload["data"]["id"] == str(order.id)  # type: ignore[index]
    done = await only_delivery(webhook_container, endpoint.id)
    assert (done.status, done.attempts, done.next_attempt_at) == (DeliveryStatus.SUCCEEDED, 1, None)
    (attempt,) = await attempts_of(webhook_container, delivery.id)
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, None)
    assert attempt.response_excerpt == "{}"
    assert attempt.duration_seconds > 0
    assert sample("webhook_deliveries_total", outcome="succeeded") == succeeded + 1


async def test_during_a_rotation_both_secrets_sign_and_either_verifies(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    endpoint = await rotate(
        webhook_container, await subscribe(webhook_container, f"{receiver.url}/hooks")
    )
    await place_order(webhook_container)

    assert await deliverer.deliver_once() == [Outcome.SUCCEEDED]

    (received,) = receiver.received
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    old, new = endpoint.secrets
    assert verified(received, old.value) == verified(received, new.value)


async def test_an_endpoint_gets_only_the_event_types_it_subscribes_to(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    endpoint = await subscribe(
        webhook_container, f"{receiver.url}/hooks", event_types=frozenset({"order.deleted"})
    )
    await place_order(webhook_container)

    assert await deliverer.deliver_once() == []
    assert await deliveries_of(webhook_container, endpoint.id) == []
    assert receiver.count() == 0


async def test_500_then_200_sends_the_same_webhook_id_twice_and_the_effect_happens_once(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    receiver.answer(FAILING, then=OK)
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)

    assert await deliverer.deliver_once() == [Outcome.RETRYING]
    failing = await only_delivery(webhook_container, endpoint.id)
    assert (failing.status, failing.attempts, failing.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    await asyncio.sleep(0.25)  # the schedule's second wait: 0.2 s, give or take 10%
    assert await deliverer.deliver_once() == [Outcome.SUCCEEDED]

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == failing.message_id
    assert first.body == second.body
    assert receiver.effects == {failing.message_id: 1}
    attempts = await attempts_of(webhook_container, failing.id)
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 200)]
    assert attempts[0].response_excerpt == '{"error": "boom"}'


async def test_the_schedule_is_observed_then_the_delivery_fails_and_is_listed(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    receiver.answer(then=FAILING)
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)
    failed = sample("webhook_deliveries_total", outcome="failed")

    async with running(deliverer):
        await delivery_in(webhook_container, endpoint.id, DeliveryStatus.FAILED)

    assert receiver.count() == 3  # the schedule has three attempts: at once, 0.2 s, 0.4 s
    # Never sooner than the jittered wait; later only by the worker's polling and the machine's
    # load (the waits themselves are checked exactly in tests/unit/test_webhook_schedule.py).
    for gap, wait in zip(gaps(receiver), (0.2, 0.4), strict=True):
        assert wait * 0.9 - 0.01 <= gap <= wait * 1.1 + 3.0
    given_up = await only_delivery(webhook_container, endpoint.id)
    assert (given_up.attempts, given_up.next_attempt_at) == (3, None)
    listed = await webhook_container.webhooks.deliveries.list_after(
        DeliveryFilter(status=DeliveryStatus.FAILED), None, limit=10
    )
    assert [delivery.id for delivery in listed] == [given_up.id]
    assert sample("webhook_deliveries_total", outcome="failed") == failed + 1


async def test_retry_after_is_waited_for(
    webhook_settings: Settings, receiver: MisbehavingServer
) -> None:
    receiver.answer(Answer(503, {"Retry-After": "1"}), then=OK)
    async with delivering(webhook_settings, webhooks_retry_schedule_seconds=(0.0, 0.1, 5.0)) as (
        container,
        deliverer,
    ):
        endpoint = await subscribe(container, f"{receiver.url}/hooks")
        await place_order(container)

        async with running(deliverer):
            await delivery_in(container, endpoint.id, DeliveryStatus.SUCCEEDED)

    (gap,) = gaps(receiver)
    assert 1.0 - 0.01 <= gap <= 1.0 + 3.0  # later only by polling and the machine's load


async def test_a_retry_after_past_the_longest_wait_of_the_schedule_waits_that_long(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    receiver.answer(Answer(429, {"Retry-After": "86400"}))
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)

    assert await deliverer.deliver_once() == [Outcome.RETRYING]

    delivery = await only_delivery(webhook_container, endpoint.id)
    (attempt,) = await attempts_of(webhook_container, delivery.id)
    assert delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - attempt.attempted_at).total_seconds()
    assert 0.4 - 0.01 <= wait <= 0.4 + 2.0  # the schedule's longest wait, not a day


async def test_410_disables_the_endpoint_and_fails_its_deliveries(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    receiver.answer(Answer(410), then=OK)
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)
    disabled = sample("webhook_endpoints_disabled_total", reason="gone")

    assert await deliverer.deliver_once() == [Outcome.FAILED]

    gone = await webhook_container.webhooks.endpoints.get(endpoint.id)
    assert gone is not None
    assert (gone.status, gone.disabled_reason) == (EndpointStatus.DISABLED, "410 Gone")
    delivery = await only_delivery(webhook_container, endpoint.id)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.FAILED, 410)
    await place_order(webhook_container)
    assert len(await deliveries_of(webhook_container, endpoint.id)) == 1, "none for a disabled one"
    assert await deliverer.deliver_once() == []
    assert receiver.count() == 1
    assert sample("webhook_endpoints_disabled_total", reason="gone") == disabled + 1


async def test_a_long_enough_run_of_failures_disables_the_endpoint(
    webhook_settings: Settings, receiver: MisbehavingServer
) -> None:
    receiver.answer(then=FAILING)
    async with delivering(
        webhook_settings,
        webhooks_retry_schedule_seconds=(0.0, 0.1),
        webhooks_disable_after_failures=3,
        webhooks_disable_after_seconds=600,
    ) as (container, deliverer):
        endpoint = await subscribe(container, f"{receiver.url}/hooks")
        # The endpoint began failing an hour ago (an attempt of another delivery): the run is
        # long enough already, and only the count decides, whatever the machine's speed.
        began = to_stored_precision(datetime.now(UTC) - timedelta(hours=1))
        await container.webhooks.endpoints.failed(endpoint.id, began)
        await place_order(container)

        async with running(deliverer):
            await delivery_in(container, endpoint.id, DeliveryStatus.FAILED)

        disabled = await container.webhooks.endpoints.get(endpoint.id)

    assert disabled is not None
    assert disabled.status is EndpointStatus.DISABLED
    # The first attempt made two failures in a row, the second three: that one disabled it.
    assert receiver.count() == 2
    assert (disabled.failure_streak, disabled.failing_since) == (3, began)
    assert disabled.disabled_reason == f"3 failed attempts in a row since {began.isoformat()}"


async def test_a_run_of_failures_shorter_than_the_limit_leaves_the_endpoint_active(
    webhook_settings: Settings, receiver: MisbehavingServer
) -> None:
    receiver.answer(then=FAILING)
    async with delivering(
        webhook_settings,
        webhooks_retry_schedule_seconds=(0.0, 0.1, 0.1),
        webhooks_disable_after_failures=2,
        webhooks_disable_after_seconds=600,
    ) as (container, deliverer):
        endpoint = await subscribe(container, f"{receiver.url}/hooks")
        await place_order(container)

        async with running(deliverer):
            await delivery_in(container, endpoint.id, DeliveryStatus.FAILED)

        failing = await container.webhooks.endpoints.get(endpoint.id)
        attempts = await attempts_of(container, (await only_delivery(container, endpoint.id)).id)

    assert failing is not None
    # Failures enough, and every attempt of the schedule made, but not for ten minutes.
    assert failing.status is EndpointStatus.ACTIVE
    assert receiver.count() == len(attempts) == failing.failure_streak == 3
    # The run is timed from its first attempt, not from when the worker judged it.
    assert failing.failing_since == attempts[0].attempted_at


async def test_a_success_resets_the_endpoints_run_of_failures(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    receiver.answer(FAILING, FAILING, then=OK)
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)

    async with running(deliverer):
        await delivery_in(webhook_container, endpoint.id, DeliveryStatus.SUCCEEDED)

    recovered = await webhook_container.webhooks.endpoints.get(endpoint.id)
    assert recovered is not None
    assert (recovered.failure_streak, recovered.failing_since) == (0, None)
    assert recovered.status is EndpointStatus.ACTIVE


async def test_the_breaker_opens_for_a_dead_endpoint_and_the_others_keep_receiving(
    webhook_settings: Settings, receiver: MisbehavingServer, other_receiver: MisbehavingServer
) -> None:
    dead, alive = receiver, other_receiver
    dead.answer(then=FAILING)
    # One at a time, so that the circuit sees each failure before the next call; the
    # next attempts are far off, so each delivery is tried once here.
    async with delivering(
        webhook_settings,
        webhooks_deliver_concurrency=1,
        webhooks_retry_schedule_seconds=(0.0, 60.0),
    ) as (container, deliverer):
        dead_endpoint = await subscribe(container, f"{dead.url}/hooks")
        alive_endpoint = await subscribe(container, f"{alive.url}/hooks")
        for _ in range(6):
            await place_order(container)

        while await deliverer.deliver_once():
            pass

        assert alive.count() == 6
        assert dead.count() == 3  # the threshold; then refused without a request
        attempts = [
            attempt
            for delivery in await deliveries_of(container, dead_endpoint.id)
            for attempt in await attempts_of(container, delivery.id)
        ]
        assert (
            sorted((a.status_code or 0, a.error or "") for a in attempts)
            == [(0, f"webhook:{dead_endpoint.id}: circuit open")] * 3 + [(500, "")] * 3
        )
        assert sample("circuit_breaker_state", downstream=f"webhook:{dead_endpoint.id}") == 2
        assert sample("circuit_breaker_state", downstream=f"webhook:{alive_endpoint.id}") == 0
        still = await container.webhooks.endpoints.get(dead_endpoint.id)
        assert still is not None
        assert still.failure_streak == 3, "refusals by the circuit are not the endpoint's failures"


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    webhook_container: Container,
    deliverer: WebhookDeliverer,
    receiver: MisbehavingServer,
    other_receiver: MisbehavingServer,
) -> None:
    receiver.answer(Answer(302, {"Location": f"{other_receiver.url}/elsewhere"}))
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)

    assert await deliverer.deliver_once() == [Outcome.RETRYING]

    assert (await only_delivery(webhook_container, endpoint.id)).last_status_code == 302
    assert other_receiver.connections == 0


async def test_a_response_is_kept_as_a_bounded_excerpt(
    webhook_settings: Settings, receiver: MisbehavingServer
) -> None:
    receiver.answer(Answer(500, body="é".encode() * 100_000))
    async with delivering(
        webhook_settings, webhooks_response_excerpt_bytes=101, webhooks_max_response_bytes=4096
    ) as (container, deliverer):
        endpoint = await subscribe(container, f"{receiver.url}/hooks")
        await place_order(container)

        assert await deliverer.deliver_once() == [Outcome.RETRYING]

        delivery = await only_delivery(container, endpoint.id)
        (attempt,) = await attempts_of(container, delivery.id)
        assert attempt.status_code == 500
        # 101 bytes: fifty whole characters and half of one, replaced.
        assert attempt.response_excerpt == "é" * 50 + "\ufffd"


@pytest.mark.parametrize(
    ("changes", "url", "reason"),
    [
        (
            {"webhooks_allow_private_addresses": False},
            "http://127.0.0.1:{port}/hooks",
            "127.0.0.1 is not a public address",
        ),
        (
            {"webhooks_allow_http": False},
            "http://127.0.0.1:{port}/hooks",
            "the URL must use https",
        ),
        (
            {"webhooks_allow_private_addresses": False},
            "http://[::ffff:127.0.0.1]:{port}/hooks",
            "127.0.0.1 is not a public address",
        ),
    ],
)
async def test_a_refused_destination_fails_the_attempt_without_a_connection(
    webhook_settings: Settings,
    receiver: MisbehavingServer,
    changes: dict[str, object],
    url: str,
    reason: str,
) -> None:
    refusing = webhook_settings.model_copy(update=changes)
    async with delivering(refusing) as (container, deliverer):
        endpoint = await subscribe(container, url.format(port=receiver.port))
        await place_order(container)

        assert await deliverer.deliver_once() == [Outcome.RETRYING]

        delivery = await only_delivery(container, endpoint.id)
        (attempt,) = await attempts_of(container, delivery.id)
        assert attempt.status_code is None
        assert attempt.error is not None
        assert reason in attempt.error
        assert receiver.connections == 0


async def test_a_name_rebound_to_loopback_after_it_was_saved_is_refused_at_delivery(
    webhook_settings: Settings, receiver: MisbehavingServer
) -> None:
    names = {"hooks.example.test": [PUBLIC]}

    async def resolve(host: str, _: int) -> list[str]:
        return names[host]

    policy = DestinationPolicy(allow_http=True, resolver=resolve)
    url = f"http://hooks.example.test:{receiver.port}/hooks"
    async with delivering(webhook_settings, policy=policy) as (container, deliverer):
        await policy.check(url)  # as the endpoints API checks it on saving: public then
        endpoint = await subscribe(container, url)
        names["hooks.example.test"] = ["127.0.0.1"]
        await place_order(container)

        assert await deliverer.deliver_once() == [Outcome.RETRYING]

        delivery = await only_delivery(container, endpoint.id)
        assert "127.0.0.1 is not a public address" in (delivery.last_error or "")
        assert receiver.connections == 0


async def test_the_backlog_per_endpoint_is_exported_and_cleared(
    webhook_container: Container, deliverer: WebhookDeliverer, receiver: MisbehavingServer
) -> None:
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    for _ in range(2):
        await place_order(webhook_container)
    label = str(endpoint.id)

    await deliverer.refresh_backlog()
    assert sample("webhook_pending_deliveries", endpoint=label) == 2
    assert sample("webhook_oldest_due_delivery_age_seconds", endpoint=label) >= 0

    assert await deliverer.deliver_once() == [Outcome.SUCCEEDED] * 2
    await deliverer.refresh_backlog()
    assert REGISTRY.get_sample_value("webhook_pending_deliveries", {"endpoint": label}) is None


async def test_a_worker_stopping_mid_claim_gives_the_deliveries_back_unattempted(
    webhook_container: Container, receiver: MisbehavingServer
) -> None:
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    await place_order(webhook_container)
    stop = asyncio.Event()

    def stopping_clock() -> datetime:
        """The clock the claim reads: SIGTERM arrives just as the worker claims."""
        stop.set()
        return datetime.now(UTC)

    async with (
        open_webhook_deliverer(webhook_container, clock=stopping_clock) as stopping,
        open_webhook_deliverer(webhook_container) as other,
    ):
        await stopping.run(stop)

        released = await only_delivery(webhook_container, endpoint.id)
        assert (released.status, released.attempts) == (DeliveryStatus.PENDING, 0)
        assert receiver.count() == 0
        assert await other.deliver_once() == [Outcome.SUCCEEDED], "not held by a lease"
