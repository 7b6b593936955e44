"""Webhook endpoints and deliveries: secrets, rotation and changes, without any I/O."""

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from {{ cookiecutter.package_name }}.application.webhook_endpoints import secret_hint
from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DISABLED_BY_CALLER,
    EVENT_TYPES,
    SECRET_BYTES,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointChanges,
    EndpointStatus,
    NewEndpoint,
    SigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC)
HOUR = timedelta(hours=1)
NEW = NewEndpoint("https://receiver.example/hooks", frozenset({"order.created.v1"}), "crm")


def endpoint() -> WebhookEndpoint:
    return WebhookEndpoint.create(NEW, NOW)


def test_a_secret_is_whsec_and_at_least_24_random_bytes() -> None:
    secrets = {SigningSecret.generate(NOW).value for _ in range(100)}

    assert len(secrets) == 100
    for value in secrets:
        assert value.startswith("whsec_")
        assert len(base64.b64decode(value.removeprefix("whsec_"), validate=True)) == SECRET_BYTES
    assert SECRET_BYTES >= 24


def test_a_secret_keys_the_hmac_with_the_bytes_it_encodes() -> None:
    secret = SigningSecret.generate(NOW)

    assert secret.key == base64.b64decode(secret.value.removeprefix("whsec_"))


def test_a_secret_signs_until_it_expires() -> None:
    secret = SigningSecret("whsec_AAAA", NOW, expires_at=NOW + HOUR)

    assert secret.signs_at(NOW + HOUR - timedelta(milliseconds=1))
    assert not secret.signs_at(NOW + HOUR)
    assert SigningSecret("whsec_AAAA", NOW).signs_at(NOW + timedelta(days=3650))


def test_a_hint_shows_a_few_characters_of_the_secret() -> None:
    value = SigningSecret.generate(NOW).value

    hint = secret_hint(value)

    assert hint == f"{value[:10]}..."
    assert len(hint) < len(value) // 3


def test_a_new_endpoint_is_active_at_version_one_with_one_secret() -> None:
    created = endpoint()

    assert created.status is EndpointStatus.ACTIVE
    assert created.disabled_reason is None
    assert created.version == 1
    assert len(created.secrets) == 1
    assert created.signing_secrets(NOW) == created.secrets
    assert created.created_at == created.updated_at == NOW.replace(microsecond=123_000)


def test_an_endpoint_with_no_event_types_subscribes_to_all_of_them() -> None:
    every = WebhookEndpoint.create(NewEndpoint("https://r.example", frozenset()), NOW)
    one = endpoint()

    assert all(every.subscribes_to(event_type) for event_type in EVENT_TYPES)
    assert one.subscribes_to("order.created.v1")
    assert not one.subscribes_to("order.updated.v1")


def test_rotation_adds_a_secret_and_the_old_one_signs_until_the_overlap_ends() -> None:
    created = endpoint()
    (old,) = created.secrets

    rotated = created.rotate_secret(NOW + HOUR, timedelta(hours=24))

    new = rotated.secrets[-1]
    assert new.value != old.value
    assert new.expires_at is None
    assert [secret.value for secret in rotated.signing_secrets(NOW + HOUR)] == [
        old.value,
        new.value,
    ]
    ends = rotated.secrets[0].expires_at
    assert ends == (NOW + HOUR + timedelta(hours=24)).replace(microsecond=123_000)
    assert rotated.signing_secrets(ends) == (new,)
    assert rotated.version == created.version + 1


def test_a_second_rotation_keeps_the_earlier_end_of_the_first() -> None:
    first = endpoint().rotate_secret(NOW, timedelta(hours=2))

    second = first.rotate_secret(NOW + HOUR, timedelta(hours=24))

    assert len(second.signing_secrets(NOW + HOUR)) == 3
    assert second.secrets[0].expires_at == first.secrets[0].expires_at
    assert len(second.signing_secrets(NOW + 3 * HOUR)) == 2


def test_rotation_forgets_secrets_that_no_longer_sign() -> None:
    first = endpoint().rotate_secret(NOW, HOUR)

    second = first.rotate_secret(NOW + 2 * HOUR, HOUR)

    assert [secret.value for secret in second.secrets] == [
        first.secrets[1].value,
        second.secrets[-1].value,
    ]


def test_rotation_without_overlap_retires_the_old_secret_at_once() -> None:
    rotated = endpoint().rotate_secret(NOW, timedelta(0))

    assert rotated.signing_secrets(NOW) == (rotated.secrets[-1],)


def test_changes_that_change_nothing_return_the_endpoint_itself() -> None:
    created = endpoint()

    same = created.apply(
        EndpointChanges(url=NEW.url, description="crm", status=EndpointStatus.ACTIVE), NOW
    )

    assert same is created


def test_a_change_bumps_the_version_once() -> None:
    created = endpoint()

    changed = created.apply(
        EndpointChanges(
            url="https://other.example/hooks",
            event_types=frozenset(),
            description="all events",
            status=EndpointStatus.DISABLED,
        ),
        NOW + HOUR,
    )

    assert changed.version == 2
    assert changed.url == "https://other.example/hooks"
    assert changed.event_types == frozenset()
    assert changed.description == "all events"
    assert changed.updated_at == (NOW + HOUR).replace(microsecond=123_000)


def test_disabling_records_the_reason_given_or_says_the_caller_did() -> None:
    created = endpoint()

    given = created.apply(
        EndpointChanges(status=EndpointStatus.DISABLED, disabled_reason="maintenance"), NOW
    )
    default = created.apply(EndpointChanges(status=EndpointStatus.DISABLED), NOW)

    assert (given.status, given.disabled_reason) == (EndpointStatus.DISABLED, "maintenance")
    assert default.disabled_reason == DISABLED_BY_CALLER


def test_disabling_again_keeps_the_reason_unless_a_new_one_is_given() -> None:
    disabled = endpoint().disable("the endpoint answered 410 Gone", NOW)

    again = disabled.apply(EndpointChanges(status=EndpointStatus.DISABLED), NOW)
    reason = disabled.apply(
        EndpointChanges(status=EndpointStatus.DISABLED, disabled_reason="moved"), NOW
    )

    assert again is disabled
    assert reason.disabled_reason == "moved"
    assert reason.version == disabled.version + 1


def test_enabling_forgets_the_reason_and_the_failures() -> None:
    failing = replace(endpoint(), failure_streak=7, failing_since=NOW)
    disabled = failing.disable("failing for 5 days", NOW)

    enabled = disabled.apply(EndpointChanges(status=EndpointStatus.ACTIVE), NOW + HOUR)

    assert enabled.status is EndpointStatus.ACTIVE
    assert enabled.disabled_reason is None
    assert (enabled.failure_streak, enabled.failing_since) == (0, None)
    assert enabled.version == disabled.version + 1


def test_a_delivery_carries_the_event_as_its_fixed_body_and_id() -> None:
    order = Order.place(NewOrder("c-1", "EUR", (OrderLine("A", 1, 100),)), NOW)
    event = OrderEvent.created(order)

    delivery = WebhookDelivery.of(endpoint().id, event, NOW)

    assert delivery.status is DeliveryStatus.PENDING
    assert (delivery.attempts, delivery.next_attempt_at) == (0, delivery.created_at)
    assert delivery.message_id == f"msg_{event.id.hex}"
    assert json.loads(delivery.body) == {
        "type": OrderEventType.CREATED.value,
        "timestamp": event.occurred_at.isoformat(),
        "data": order.snapshot(),
    }


def test_only_a_2xx_answer_is_a_successful_attempt() -> None:
    def attempt(status_code: int | None) -> DeliveryAttempt:
        return DeliveryAttempt(endpoint().id, 1, NOW, 0.1, status_code, "")

    assert attempt(200).succeeded
    assert attempt(204).succeeded
    assert not attempt(301).succeeded
    assert not attempt(500).succeeded
    assert not attempt(None).succeeded
