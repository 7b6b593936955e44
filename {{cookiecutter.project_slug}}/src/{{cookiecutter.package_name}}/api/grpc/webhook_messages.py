"""Webhook endpoint messages to domain values and back.

The use cases check what a caller sets (the URL's destination included) and
name the fields relative to the endpoint (``url``); :func:`fields_of` puts them
at their place in the request (``endpoint.url``), as the orders messages do.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from uuid import UUID

from {{ cookiecutter.package_name }}.api.grpc.messages import versions_matching
from {{ cookiecutter.package_name }}.application.etags import etag
from {{ cookiecutter.package_name }}.application.webhook_endpoints import secret_hint
from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, ValidationFailedError
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointChanges,
    EndpointStatus,
    NewEndpoint,
    WebhookDelivery,
    WebhookEndpoint,
)
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2

UPDATABLE_FIELDS = ("url", "description", "event_types", "status", "disabled_reason")

ENDPOINT_STATUS_TO_WIRE: dict[EndpointStatus, webhooks_pb2.WebhookEndpointStatus.ValueType] = {
    EndpointStatus.ACTIVE: webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_ACTIVE,
    EndpointStatus.DISABLED: webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_DISABLED,
}
ENDPOINT_STATUS_FROM_WIRE = {wire: status for status, wire in ENDPOINT_STATUS_TO_WIRE.items()}
DELIVERY_STATUS_TO_WIRE: dict[DeliveryStatus, webhooks_pb2.WebhookDeliveryStatus.ValueType] = {
    DeliveryStatus.PENDING: webhooks_pb2.WEBHOOK_DELIVERY_STATUS_PENDING,
    DeliveryStatus.SUCCEEDED: webhooks_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED,
    DeliveryStatus.FAILED: webhooks_pb2.WEBHOOK_DELIVERY_STATUS_FAILED,
}
DELIVERY_STATUS_FROM_WIRE = {wire: status for status, wire in DELIVERY_STATUS_TO_WIRE.items()}


@contextmanager
def fields_of(message: str) -> Iterator[None]:
    """Name the fields of a validation error raised inside by their path under ``message``."""
    try:
        yield
    except ValidationFailedError as error:
        raise ValidationFailedError(
            *(FieldViolation(f"{message}.{found.field}", found.message) for found in error.details)
        ) from None


def identifier(value: str, field: str) -> UUID:
    """An endpoint's or a delivery's id from the wire."""
    try:
        return UUID(value)
    except ValueError:
        raise ValidationFailedError(FieldViolation(field, "Send an id, a UUID.")) from None


def endpoint_message(endpoint: WebhookEndpoint) -> webhooks_pb2.WebhookEndpoint:
    """The wire form of an endpoint, its secrets by a hint only."""
    message = webhooks_pb2.WebhookEndpoint(
        id=str(endpoint.id),
        url=endpoint.url,
        description=endpoint.description,
        event_types=sorted(endpoint.event_types),
        status=ENDPOINT_STATUS_TO_WIRE[endpoint.status],
        disabled_reason=endpoint.disabled_reason or "",
        failure_streak=endpoint.failure_streak,
        version=endpoint.version,
        etag=etag(endpoint.version),
    )
    for secret in endpoint.signing_secrets(utc_now()):
        shown = message.secrets.add(hint=secret_hint(secret.value))
        shown.create_time.FromDatetime(secret.created_at)
        if secret.expires_at is not None:
            shown.expire_time.FromDatetime(secret.expires_at)
    if endpoint.failing_since is not None:
        message.failing_since.FromDatetime(endpoint.failing_since)
    message.create_time.FromDatetime(endpoint.created_at)
    message.update_time.FromDatetime(endpoint.updated_at)
    return message


def delivery_message(delivery: WebhookDelivery) -> webhooks_pb2.WebhookDelivery:
    """The wire form of a delivery."""
    message = webhooks_pb2.WebhookDelivery(
        id=str(delivery.id),
        endpoint_id=str(delivery.endpoint_id),
        event_id=str(delivery.event_id),
        event_type=delivery.event_type,
        message_id=delivery.message_id,
        body=delivery.body,
        status=DELIVERY_STATUS_TO_WIRE[delivery.status],
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code or 0,
        last_error=delivery.last_error or "",
    )
    if delivery.next_attempt_at is not None:
        message.next_attempt_time.FromDatetime(delivery.next_attempt_at)
    message.create_time.FromDatetime(delivery.created_at)
    message.update_time.FromDatetime(delivery.updated_at)
    return message


def attempt_message(attempt: DeliveryAttempt) -> webhooks_pb2.DeliveryAttempt:
    """The wire form of an attempt."""
    message = webhooks_pb2.DeliveryAttempt(
        number=attempt.number,
        status_code=attempt.status_code or 0,
        response_excerpt=attempt.response_excerpt,
        error=attempt.error or "",
        succeeded=attempt.succeeded,
    )
    message.attempt_time.FromDatetime(attempt.attempted_at)
    message.duration.FromTimedelta(timedelta(seconds=attempt.duration_seconds))
    return message


def new_endpoint(message: webhooks_pb2.WebhookEndpoint) -> NewEndpoint:
    """What a CreateWebhookEndpoint request asks for (the use case checks it)."""
    return NewEndpoint(
        url=message.url,
        event_types=frozenset(message.event_types),
        description=message.description,
    )


def _set_fields(endpoint: webhooks_pb2.WebhookEndpoint) -> list[str]:
    """The fields an update without a mask changes: those set to something."""
    present = {
        "url": bool(endpoint.url),
        "description": bool(endpoint.description),
        "event_types": len(endpoint.event_types) > 0,
        "status": endpoint.status != webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_UNSPECIFIED,
        "disabled_reason": bool(endpoint.disabled_reason),
    }
    return [name for name, set_ in present.items() if set_]


def endpoint_changes(
    request: webhooks_pb2.UpdateWebhookEndpointRequest,
) -> tuple[UUID, EndpointChanges, frozenset[int] | None]:
    """The endpoint to change, the changes its field mask selects, and the versions it accepts."""
    endpoint = request.endpoint
    endpoint_id = identifier(endpoint.id, "endpoint.id")
    paths = list(request.update_mask.paths)
    if paths == ["*"]:
        paths = list(UPDATABLE_FIELDS)
    elif not paths:
        paths = _set_fields(endpoint)
    violations = []
    if unknown := sorted(set(paths) - set(UPDATABLE_FIELDS)):
        violations.append(
            FieldViolation(
                "update_mask",
                f"Only {', '.join(UPDATABLE_FIELDS)} can change, not {', '.join(unknown)}.",
            )
        )
    if not paths:
        violations.append(FieldViolation("update_mask", "Name at least one field to change."))
    status = None
    if "status" in paths:
        status = ENDPOINT_STATUS_FROM_WIRE.get(endpoint.status)
        if status is None:
            violations.append(FieldViolation("endpoint.status", "Send active or disabled."))
    if violations:
        raise ValidationFailedError(*violations)
    changes = EndpointChanges(
        url=endpoint.url if "url" in paths else None,
        description=endpoint.description if "description" in paths else None,
        event_types=frozenset(endpoint.event_types) if "event_types" in paths else None,
        status=status,
        disabled_reason=(endpoint.disabled_reason or None) if "disabled_reason" in paths else None,
    )
    return endpoint_id, changes, versions_matching(endpoint.etag)


def rotation_overlap(
    request: webhooks_pb2.RotateWebhookEndpointSecretRequest, longest: timedelta
) -> timedelta | None:
    """The overlap a rotation asks for (``None``: the longest, the default), within bounds."""
    if not request.HasField("overlap"):
        return None
    overlap = request.overlap.ToTimedelta()
    if not timedelta(0) <= overlap <= longest:
        raise ValidationFailedError(
            FieldViolation("overlap", f"Use 0 to {int(longest.total_seconds())} seconds.")
        )
    return overlap


def delivery_status(value: webhooks_pb2.WebhookDeliveryStatus.ValueType) -> DeliveryStatus | None:
    """The status a listing selects; unspecified selects any."""
    if value == webhooks_pb2.WEBHOOK_DELIVERY_STATUS_UNSPECIFIED:
        return None
    status = DELIVERY_STATUS_FROM_WIRE.get(value)
    if status is None:
        raise ValidationFailedError(
            FieldViolation("status", "Send one of the statuses the API defines.")
        )
    return status
