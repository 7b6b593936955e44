"""Webhooks received through the real app (REST) or the HTTP side port (gRPC), on the real database.

The payment provider signs with the reference Standard Webhooks library. A
message that fails verification changes nothing: the order stays as it was
and the inbox holds no id, so the provider's retry (correctly signed) still
has its effect.
"""

import asyncio
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.domain.orders import OrderChanges, OrderStatus
from {{ cookiecutter.package_name }}.settings import Settings, WebhookSourceSettings
from tests.support.database import with_patient_transactions
from tests.support.inbound_webhooks import (
    OpenWebhookService,
    WebhookService,
    json_lines,
    new_secret,
    payment,
    signed,
)

SECRET = new_secret()


def with_source(settings: Settings, **source: object) -> Settings:
    """``settings`` whose payments source is configured with ``source``."""
    fields = {"secrets": SecretStr(SECRET)} | source
    return settings.model_copy(update={"webhooks_payments": WebhookSourceSettings(**fields)})


@pytest.fixture
async def service(
    open_webhook_service: OpenWebhookService, settings: Settings
) -> AsyncIterator[WebhookService]:
    """The service, with the payments source holding ``SECRET``."""
    async with open_webhook_service(with_source(settings, max_body_bytes=2048)) as opened:
        yield opened


def assert_refused(response_status: int, body: dict[str, object], status: int, code: str) -> None:
    assert response_status == status
    assert body["error"]["code"] == code  # type: ignore[index]


async def test_a_paid_order_is_confirmed(service: WebhookService) -> None:
    order = await service.place_order()
    headers = signed(SECRET, payment(order.id), message_id="msg_paid")

    response = await service.post(payment(order.id), headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "applied"}
    confirmed = await service.order(order.id)
    assert (confirmed.status, confirmed.version) == (OrderStatus.CONFIRMED, order.version + 1)
    assert await service.recorded("msg_paid")


async def test_a_failed_payment_cancels_the_order(service: WebhookService) -> None:
    order = await service.place_order()
    body = payment(order.id, "payment.failed")

    response = await service.post(body, signed(SECRET, body))

    assert response.json() == {"outcome": "applied"}
    assert (await service.order(order.id)).status is OrderStatus.CANCELLED


async def test_a_replayed_message_has_no_second_effect(service: WebhookService) -> None:
    order = await service.place_order()
    body = payment(order.id)
    headers = signed(SECRET, body)
    assert (await service.post(body, headers)).json() == {"outcome": "applied"}
    confirmed = await service.order(order.id)

    again = await service.post(body, headers)

    assert again.status_code == 200
    assert again.json() == {"outcome": "duplicate"}
    assert await service.order(order.id) == confirmed


async def test_a_message_replayed_after_the_order_moved_on_is_a_duplicate(
    service: WebhookService,
) -> None:
    order = await service.place_order()
    body = payment(order.id)
    headers = signed(SECRET, body)
    await service.post(body, headers)
    shipped = await service.container.orders.update(
        order.id, OrderChanges(status=OrderStatus.SHIPPED)
    )

    again = await service.post(body, headers)

    assert again.json() == {"outcome": "duplicate"}
    assert await service.order(order.id) == shipped


async def test_an_order_already_as_the_message_asks_is_left_and_the_message_recorded(
    service: WebhookService,
) -> None:
    order = await service.place_order()
    confirmed = await service.container.orders.update(
        order.id, OrderChanges(status=OrderStatus.CONFIRMED)
    )
    headers = signed(SECRET, payment(order.id))

    response = await service.post(payment(order.id), headers)

    assert response.json() == {"outcome": "applied"}
    assert await service.order(order.id) == confirmed
    assert await service.recorded(headers["webhook-id"])


async def test_the_same_message_delivered_twice_at_once_applies_once(
    open_webhook_service: OpenWebhookService, settings: Settings
) -> None:
    # The copies wait for the first one's unit of work to end, then find its id.
    patient = with_patient_transactions(with_source(settings))
    async with open_webhook_service(patient) as service:
        order = await service.place_order()
        body = payment(order.id)
        headers = signed(SECRET, body)

        responses = await asyncio.gather(*(service.post(body, headers) for _ in range(4)))

        assert [response.status_code for response in responses] == [200] * 4, [
            response.text for response in responses
        ]
        outcomes = sorted(response.json()["outcome"] for response in responses)
        assert outcomes == ["applied", "duplicate", "duplicate", "duplicate"]
        assert (await service.order(order.id)).version == order.version + 1


async def test_a_transition_the_order_cannot_make_is_acknowledged_and_logged(
    service: WebhookService, service_log: io.StringIO
) -> None:
    order = await service.place_order()
    cancelled = await service.container.orders.update(
        order.id, OrderChanges(status=OrderStatus.CANCELLED)
    )
    headers = signed(SECRET, payment(order.id), message_id="msg_late")

    response = await service.post(payment(order.id), headers)

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored"}
    assert await service.order(order.id) == cancelled
    (record,) = [r for r in json_lines(service_log.getvalue()) if r["event"] == "webhook_received"]
    assert record["outcome"] == "ignored"
    assert record["message_id"] == "msg_late"
    assert "cannot go from cancelled to confirmed" in record["reason"]
    again = await service.post(payment(order.id), headers)
    assert again.json() == {"outcome": "duplicate"}


@pytest.mark.parametrize(
    "body",
    [
        payment(uuid4()),
        json.dumps({"type": "payment.refunded", "data": {}}).encode(),
    ],
    ids=["unknown order", "unhandled event type"],
)
async def test_a_message_the_service_does_not_act_on_is_acknowledged(
    service: WebhookService, body: bytes
) -> None:
    headers = signed(SECRET, body)

    response = await service.post(body, headers)

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored"}
    assert await service.recorded(headers["webhook-id"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "payment.succeeded", "data": {}}, "data.order_id"),
        ({"type": "payment.succeeded", "data": {"order_id": "order-7"}}, "data.order_id"),
        ({"type": "payment.failed", "data": "order-7"}, "data.order_id"),
        ({"data": {"order_id": str(uuid4())}}, "type"),
    ],
)
async def test_a_verified_payload_without_what_it_needs_is_invalid(
    service: WebhookService, payload: dict[str, object], field: str
) -> None:
    body = json.dumps(payload).encode()
    headers = signed(SECRET, body)

    response = await service.post(body, headers)

    assert_refused(response.status_code, response.json(), 422, "validation_failed")
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    assert not await service.recorded(headers["webhook-id"])


async def test_a_verified_body_that_is_not_json_is_malformed(service: WebhookService) -> None:
    body = b"order paid"
    headers = signed(SECRET, body)

    response = await service.post(body, headers)

    assert_refused(response.status_code, response.json(), 400, "malformed_request")
    assert not await service.recorded(headers["webhook-id"])


@pytest.mark.parametrize(
    "case",
    [
        "tampered body",
        "wrong secret",
        "expired",
        "future",
        "no webhook-id",
        "no webhook-timestamp",
        "no webhook-signature",
        "malformed signature",
    ],
)
async def test_a_message_that_fails_verification_changes_nothing(
    service: WebhookService, service_log: io.StringIO, case: str
) -> None:
    order = await service.place_order()
    body = payment(order.id)
    message_id = f"msg_{uuid4().hex}"
    now = datetime.now(UTC)
    headers = signed(SECRET, body, message_id=message_id)
    match case:
        case "tampered body":
            body = payment(order.id, "payment.failed")
        case "wrong secret":
            headers = signed(new_secret(), body, message_id=message_id)
        case "expired":
            headers = signed(
                SECRET, body, message_id=message_id, timestamp=now - timedelta(minutes=6)
            )
        case "future":
            headers = signed(
                SECRET, body, message_id=message_id, timestamp=now + timedelta(minutes=6)
            )
        case "malformed signature":
            headers["webhook-signature"] = "v1,@@@"
        case _:
            del headers[case.removeprefix("no ")]

    response = await service.post(body, headers)

    assert_refused(response.status_code, response.json(), 400, "webhook_rejected")
    assert await service.order(order.id) == order
    assert not await service.recorded(message_id)
    log = service_log.getvalue()
    (record,) = [r for r in json_lines(log) if r["event"] == "webhook_rejected"]
    assert record["source"] == "payments"
    assert record["reason"] in response.json()["error"]["message"]
    assert SECRET not in log
    assert SECRET.removeprefix("whsec_") not in log
    for signature in headers.get("webhook-signature", "").split():
        assert signature.split(",")[-1] not in log


async def test_a_retry_after_a_refusal_still_has_its_effect(service: WebhookService) -> None:
    order = await service.place_order()
    body = payment(order.id)
    headers = signed(SECRET, body)
    forged = headers | {"webhook-signature": signed(new_secret(), body)["webhook-signature"]}
    assert (await service.post(body, forged)).status_code == 400

    assert (await service.post(body, headers)).json() == {"outcome": "applied"}


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_body_is_refused_unread(service: WebhookService, declared: bool) -> None:
    order = await service.place_order()
    body = payment(order.id)[:-1] + b', "padding": "' + b"x" * 4096 + b'"}'
    headers = signed(SECRET, body)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = await service.post(body if declared else chunks(), headers)

    assert_refused(response.status_code, response.json(), 413, "payload_too_large")
    assert await service.order(order.id) == order
    assert not await service.recorded(headers["webhook-id"])


async def test_old_and_new_secrets_are_accepted_during_a_rotation(
    open_webhook_service: OpenWebhookService, settings: Settings
) -> None:
    old, new = new_secret(), new_secret()
    async with open_webhook_service(
        with_source(settings, secrets=SecretStr(f"{old} {new}"))
    ) as rotating:
        for secret in (old, new):
            order = await rotating.place_order()
            response = await rotating.post(payment(order.id), signed(secret, payment(order.id)))
            assert response.json() == {"outcome": "applied"}


async def test_an_unknown_source_is_not_found(service: WebhookService) -> None:
    body = payment(uuid4())

    response = await service.post(body, signed(SECRET, body), path="/v1/webhooks/carriers")

    assert_refused(response.status_code, response.json(), 404, "not_found")


async def test_a_source_without_secrets_refuses_every_message(
    open_webhook_service: OpenWebhookService, settings: Settings
) -> None:
    async with open_webhook_service(with_source(settings, secrets=SecretStr(""))) as unconfigured:
        order = await unconfigured.place_order()
        response = await unconfigured.post(payment(order.id), signed(SECRET, payment(order.id)))

    assert response.status_code == 400
    assert "no secrets configured" in response.json()["error"]["message"]


def github_headers(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": delivery}


async def test_a_source_on_the_github_scheme(
    open_webhook_service: OpenWebhookService, settings: Settings
) -> None:
    secret = "a-github-webhook-secret"  # noqa: S105 - the test's own (no spaces: they separate)
    async with open_webhook_service(
        with_source(settings, scheme="github", secrets=SecretStr(secret))
    ) as github:
        order = await github.place_order()
        body = payment(order.id)
        delivery = str(uuid4())

        forged = await github.post(body, github_headers("not the secret", body, delivery))
        assert_refused(forged.status_code, forged.json(), 400, "webhook_rejected")
        assert not await github.recorded(delivery)

        valid = await github.post(body, github_headers(secret, body, delivery))
        assert valid.json() == {"outcome": "applied"}
        assert await github.recorded(delivery)
        again = await github.post(body, github_headers(secret, body, delivery))
        assert again.json() == {"outcome": "duplicate"}
        assert (await github.order(order.id)).status is OrderStatus.CONFIRMED


def stripe_header(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


async def test_a_source_on_the_stripe_scheme(
    open_webhook_service: OpenWebhookService, settings: Settings
) -> None:
    secret = "whsec_" + uuid4().hex
    configured = with_source(settings, scheme="stripe", secrets=SecretStr(secret))
    async with open_webhook_service(configured) as stripe:
        order = await stripe.place_order()
        event_id = f"evt_{uuid4().hex}"
        body = json.dumps(
            {"id": event_id, "type": "payment.failed", "data": {"order_id": str(order.id)}}
        ).encode()
        now = int(datetime.now(UTC).timestamp())

        for forged in (
            stripe_header("whsec_forged", body, now),
            stripe_header(secret, body, now - 600),
        ):
            refused = await stripe.post(body, {"Stripe-Signature": forged})
            assert_refused(refused.status_code, refused.json(), 400, "webhook_rejected")
        assert not await stripe.recorded(event_id)

        valid = await stripe.post(body, {"Stripe-Signature": stripe_header(secret, body, now)})
        assert valid.json() == {"outcome": "applied"}
        assert await stripe.recorded(event_id)
        assert (await stripe.order(order.id)).status is OrderStatus.CANCELLED
