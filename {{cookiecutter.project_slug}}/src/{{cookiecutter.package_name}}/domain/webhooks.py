"""Webhooks this service sends: the endpoints that subscribe, and each delivery to them.

An endpoint receives the order events it subscribes to, signed with its
secrets (Standard Webhooks). A delivery is one event on its way to one
endpoint: its body is fixed when the event happens and its ``message_id``
never changes, so a receiver that gets it twice can tell.
"""

import base64
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from typing import Self
from uuid import UUID, uuid4

from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.domain.orders import to_stored_precision

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix every secret has, not a secret
# Standard Webhooks asks for 24 to 64 random bytes.
SECRET_BYTES = 32
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
# Free text: tabs and line breaks, and no other control character.
DESCRIPTION_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# What an endpoint may subscribe to: every kind of order event.
EVENT_TYPES = frozenset(event_type.value for event_type in OrderEventType)


class EndpointStatus(StrEnum):
    """Whether an endpoint receives deliveries."""

    ACTIVE = "active"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    """Where a delivery is: still being tried, received, or given up (listed and replayable)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A ``whsec_`` secret; after a rotation the old one signs too, until it expires."""

    value: str
    created_at: datetime
    expires_at: datetime | None = None

    @classmethod
    def generate(cls, now: datetime) -> Self:
        """A fresh secret of ``SECRET_BYTES`` random bytes."""
        encoded = base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
        return cls(f"{SECRET_PREFIX}{encoded}", to_stored_precision(now))

    @property
    def key(self) -> bytes:
        """The HMAC key: the bytes the secret encodes."""
        return base64.b64decode(self.value.removeprefix(SECRET_PREFIX))

    def signs_at(self, now: datetime) -> bool:
        """Whether the secret still signs at ``now``."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    """What a caller supplies to subscribe an endpoint; no event types means all of them."""

    url: str
    event_types: frozenset[str]
    description: str = ""


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """A partial update; ``None`` leaves a field as it is.

    ``disabled_reason`` goes with ``status=DISABLED``: why the caller disabled it.
    """

    url: str | None = None
    event_types: frozenset[str] | None = None
    description: str | None = None
    status: EndpointStatus | None = None
    disabled_reason: str | None = None


DISABLED_BY_CALLER = "disabled through the API"


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """A subscriber. ``version`` grows with every change a caller or the deliverer makes.

    ``failure_streak`` and ``failing_since`` count the attempts that failed in a
    row and when the first of them was; a success resets both.
    """

    id: UUID
    url: str
    event_types: frozenset[str]
    description: str
    status: EndpointStatus
    disabled_reason: str | None
    secrets: tuple[SigningSecret, ...]
    created_at: datetime
    updated_at: datetime
    version: int
    failure_streak: int = 0
    failing_since: datetime | None = None

    @classmethod
    def create(cls, new: NewEndpoint, now: datetime) -> Self:
        """An active endpoint with one fresh secret."""
        now = to_stored_precision(now)
        return cls(
            id=uuid4(),
            url=new.url,
            event_types=new.event_types,
            description=new.description,
            status=EndpointStatus.ACTIVE,
            disabled_reason=None,
            secrets=(SigningSecret.generate(now),),
            created_at=now,
            updated_at=now,
            version=1,
        )

    def subscribes_to(self, event_type: str) -> bool:
        """Whether deliveries of ``event_type`` go to this endpoint (when it is active)."""
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now: datetime) -> tuple[SigningSecret, ...]:
        """The secrets that sign a delivery sent at ``now``: one, or two during a rotation."""
        return tuple(secret for secret in self.secrets if secret.signs_at(now))

    def rotate_secret(self, now: datetime, overlap: timedelta) -> Self:
        """Add a fresh secret; the current ones keep signing for ``overlap``, then expire."""
        now = to_stored_precision(now)
        ending = to_stored_precision(now + overlap)
        kept = tuple(
            secret
            if secret.expires_at is not None and secret.expires_at <= ending
            else replace(secret, expires_at=ending)
            for secret in self.signing_secrets(now)
        )
        return self._changed(now, secrets=(*kept, SigningSecret.generate(now)))

    def apply(self, changes: EndpointChanges, now: datetime) -> Self:
        """The endpoint with ``changes`` (itself if nothing changes); enabling forgets failures."""
        fields: dict[str, object] = {}
        if changes.url is not None and changes.url != self.url:
            fields["url"] = changes.url
        if changes.event_types is not None and changes.event_types != self.event_types:
            fields["event_types"] = changes.event_types
        if changes.description is not None and changes.description != self.description:
            fields["description"] = changes.description
        if changes.status is EndpointStatus.DISABLED:
            if self.status is not EndpointStatus.DISABLED:
                fields |= {
                    "status": EndpointStatus.DISABLED,
                    "disabled_reason": changes.disabled_reason or DISABLED_BY_CALLER,
                }
            elif changes.disabled_reason not in (None, self.disabled_reason):
                fields["disabled_reason"] = changes.disabled_reason
        elif changes.status is EndpointStatus.ACTIVE and self.status is not EndpointStatus.ACTIVE:
            fields |= {
                "status": EndpointStatus.ACTIVE,
                "disabled_reason": None,
                "failure_streak": 0,
                "failing_since": None,
            }
        return self._changed(now, **fields) if fields else self

    def disable(self, reason: str, now: datetime) -> Self:
        """Stop deliveries to the endpoint, saying why."""
        return self._changed(now, status=EndpointStatus.DISABLED, disabled_reason=reason)

    def _changed(self, now: datetime, **fields: object) -> Self:
        return replace(
            self,
            **fields,  # type: ignore[arg-type]
            updated_at=to_stored_precision(now),
            version=self.version + 1,
        )


def webhook_body(event: OrderEvent) -> str:
    """The Standard Webhooks payload of ``event``: its type, when it happened, and the order."""
    return json.dumps(
        {
            "type": event.type.value,
            "timestamp": event.occurred_at.isoformat(),
            "data": event.data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event on its way to one endpoint.

    ``attempts`` counts the attempts made; ``next_attempt_at`` is when the next
    is due (``None`` once the delivery succeeded or failed for good).
    """

    id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None

    @classmethod
    def of(cls, endpoint_id: UUID, event: OrderEvent, now: datetime) -> Self:
        """A delivery of ``event`` to the endpoint, due at once."""
        now = to_stored_precision(now)
        return cls(
            id=uuid4(),
            endpoint_id=endpoint_id,
            event_id=event.id,
            event_type=event.type.value,
            body=webhook_body(event),
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )

    @property
    def message_id(self) -> str:
        """The ``webhook-id``: one per event, the same on every attempt and every endpoint."""
        return f"msg_{self.event_id.hex}"

    def attempted(
        self, attempt: "DeliveryAttempt", next_attempt_at: datetime | None, now: datetime
    ) -> Self:
        """The delivery after ``attempt``: received, due again at ``next_attempt_at``, or given up.

        A failed attempt with no next one (``None``) fails the delivery for good.
        """
        if attempt.succeeded:
            status, next_attempt_at = DeliveryStatus.SUCCEEDED, None
        elif next_attempt_at is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
            next_attempt_at = to_stored_precision(next_attempt_at)
        return replace(
            self,
            status=status,
            attempts=attempt.number,
            next_attempt_at=next_attempt_at,
            updated_at=to_stored_precision(now),
            last_status_code=attempt.status_code,
            last_error=attempt.error,
        )


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try of a delivery: what the endpoint answered, or why there was no answer.

    ``response_excerpt`` is the start of the response body, cut to a bounded size.
    """

    delivery_id: UUID
    number: int
    attempted_at: datetime
    duration_seconds: float
    status_code: int | None
    response_excerpt: str
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """A 2xx answer: the endpoint has the message. A 3xx is a failure (no redirects)."""
        return (
            self.status_code is not None
            and HTTPStatus.OK <= self.status_code < HTTPStatus.MULTIPLE_CHOICES
        )
