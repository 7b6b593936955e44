"""The wire shapes of ``/v1/webhook-endpoints``: endpoints, their deliveries and attempts.

A secret appears in two responses only, the create and the rotation
(``WebhookEndpointWithSecret``); every other read shows a hint of each.
"""

from datetime import UTC, datetime
from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from {{ cookiecutter.package_name }}.api.rest.schemas import CursorPagination, MergePatch, RequestBody
from {{ cookiecutter.package_name }}.application.webhook_endpoints import (
    MAX_DISABLED_REASON_LENGTH,
    MAX_REPLAY_BATCH,
    secret_hint,
)
from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.domain.events import OrderEventType
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DESCRIPTION_PATTERN,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

_EVENT_TYPES_HELP = "The event types sent to the endpoint; empty: all of them."


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


class WebhookEndpointCreate(RequestBody):
    """Body of ``POST /v1/webhook-endpoints``."""

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where deliveries are posted: https, a public address, no credentials.",
    )
    event_types: list[OrderEventType] = Field(
        default=[], max_length=len(OrderEventType), description=_EVENT_TYPES_HELP
    )
    description: str = Field(
        default="", max_length=MAX_DESCRIPTION_LENGTH, pattern=DESCRIPTION_PATTERN
    )


class WebhookEndpointPatch(MergePatch):
    """Body of ``PATCH /v1/webhook-endpoints/{id}`` (JSON Merge Patch): send only what changes."""

    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    event_types: list[OrderEventType] | None = Field(
        default=None, max_length=len(OrderEventType), description=_EVENT_TYPES_HELP
    )
    description: str | None = Field(
        default=None, max_length=MAX_DESCRIPTION_LENGTH, pattern=DESCRIPTION_PATTERN
    )
    status: EndpointStatus | None = Field(
        default=None, description="`disabled` stops deliveries; `active` resumes them."
    )
    disabled_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DISABLED_REASON_LENGTH,
        pattern=DESCRIPTION_PATTERN,
        description="Why the endpoint is disabled; only with `status: disabled`.",
    )


class SecretRotation(RequestBody):
    """Body of ``POST /v1/webhook-endpoints/{id}/secret/rotate`` (optional)."""

    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        strict=True,
        description=(
            "How long the current secrets keep signing beside the new one: at most, and by"
            " default, WEBHOOKS_SECRET_ROTATION_OVERLAP_SECONDS; 0 retires them at once."
        ),
    )


class SigningSecretOut(BaseModel):
    """A secret that signs deliveries, shown by a hint only."""

    hint: str = Field(description="The secret's first characters: enough to tell it apart.")
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = Field(
        description="When it stops signing (after a rotation); null: it has no end."
    )


class WebhookEndpointOut(BaseModel):
    """A subscribed endpoint; timestamps are ISO 8601 in UTC."""

    id: UUID
    url: str
    description: str
    event_types: list[str] = Field(description=_EVENT_TYPES_HELP)
    status: EndpointStatus
    disabled_reason: str | None
    secrets: list[SigningSecretOut] = Field(
        description="The secrets that sign now: one, or several while a rotation runs."
    )
    failure_streak: int = Field(description="Attempts that failed in a row.")
    failing_since: AwareDatetime | None = Field(
        description="When the first of those failed attempts was."
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> Self:
        """Render a domain endpoint, without its secrets' values."""
        return cls(**_endpoint_fields(endpoint))


class WebhookEndpointWithSecret(WebhookEndpointOut):
    """An endpoint with the secret just made for it: store it now, it is not shown again."""

    secret: str = Field(description="The new `whsec_` secret that signs deliveries.")

    @classmethod
    def with_secret(cls, endpoint: WebhookEndpoint, secret: str) -> Self:
        """Render a domain endpoint and its new secret."""
        return cls(**_endpoint_fields(endpoint), secret=secret)


def _endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": sorted(endpoint.event_types),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "secrets": [
            SigningSecretOut(
                hint=secret_hint(secret.value),
                created_at=secret.created_at.astimezone(UTC),
                expires_at=_utc(secret.expires_at),
            )
            for secret in endpoint.signing_secrets(utc_now())
        ],
        "failure_streak": endpoint.failure_streak,
        "failing_since": _utc(endpoint.failing_since),
        "created_at": endpoint.created_at.astimezone(UTC),
        "updated_at": endpoint.updated_at.astimezone(UTC),
        "version": endpoint.version,
    }


class WebhookEndpointPage(BaseModel):
    """One page of endpoints, newest first."""

    data: list[WebhookEndpointOut]
    pagination: CursorPagination


class WebhookDeliveryOut(BaseModel):
    """One event on its way to an endpoint."""

    id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    body: str = Field(description="The JSON posted (and signed), exactly as sent.")
    status: DeliveryStatus = Field(
        description="`pending` while tried, `succeeded`, or `failed` for good (replayable)."
    )
    attempts: int
    next_attempt_at: AwareDatetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> Self:
        """Render a domain delivery."""
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            message_id=delivery.message_id,
            body=delivery.body,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=_utc(delivery.next_attempt_at),
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at.astimezone(UTC),
            updated_at=delivery.updated_at.astimezone(UTC),
        )


class WebhookDeliveryPage(BaseModel):
    """One page of an endpoint's deliveries, newest first."""

    data: list[WebhookDeliveryOut]
    pagination: CursorPagination


class DeliveryAttemptOut(BaseModel):
    """One try of a delivery: the endpoint's answer, or why there was none."""

    number: int
    attempted_at: AwareDatetime
    duration_seconds: float
    status_code: int | None
    response_excerpt: str = Field(description="The start of the response body.")
    error: str | None
    succeeded: bool

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> Self:
        """Render a domain attempt."""
        return cls(
            number=attempt.number,
            attempted_at=attempt.attempted_at.astimezone(UTC),
            duration_seconds=attempt.duration_seconds,
            status_code=attempt.status_code,
            response_excerpt=attempt.response_excerpt,
            error=attempt.error,
            succeeded=attempt.succeeded,
        )


class DeliveryAttemptList(BaseModel):
    """Every attempt of a delivery, first first."""

    data: list[DeliveryAttemptOut]


class ReplayOutcome(BaseModel):
    """How many failed deliveries are pending again."""

    replayed: int = Field(
        description=f"Failed deliveries made pending, due now; at most {MAX_REPLAY_BATCH} a call."
    )
