"""The webhooks port: endpoints, their deliveries, and the ids of webhooks received.

Order changes write their deliveries through the unit of work
(``UnitOfWork.webhooks``), in the transaction of the change; inbound webhooks
record their message id the same way (``UnitOfWork.webhook_inbox``). Everything
else here serves the endpoints API and the ``deliver`` worker.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery a worker has leased, with the endpoint as it was when claimed."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


@dataclass(frozen=True, slots=True)
class EndpointBacklog:
    """Deliveries still to make to one endpoint, and how late the most overdue one is."""

    endpoint_id: UUID
    pending: int
    oldest_due_age_seconds: float


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which deliveries a listing or a replay selects; ``None`` matches any."""

    endpoint_id: UUID | None = None
    status: DeliveryStatus | None = None
    delivery_id: UUID | None = None


class WebhookOutbox(Protocol):
    """Deliveries written in the same transaction as the change they announce."""

    async def add(self, event: OrderEvent) -> int:
        """One delivery per active endpoint subscribed to ``event``; how many were written."""
        ...


class WebhookInbox(Protocol):
    """Ids of the webhooks this service received, recorded with the effect they had."""

    async def record(self, source: str, message_id: str, now: datetime) -> bool:
        """Mark ``message_id`` of ``source`` handled; ``False`` if it already was."""
        ...

    async def purge_before(self, cutoff: datetime) -> int:
        """Forget ids received before ``cutoff``; return how many."""
        ...


class WebhookEndpointStore(Protocol):
    """Endpoints; each write is one statement, a compare-and-set on the version."""

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Store a new endpoint."""
        ...

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint, or ``None``."""
        ...

    async def list_after(self, after: Cursor | None, *, limit: int) -> list[WebhookEndpoint]:
        """Endpoints, newest first, strictly after ``after``."""
        ...

    async def replace(self, endpoint: WebhookEndpoint, *, expected_version: int) -> bool:
        """Store ``endpoint`` if the stored one is at ``expected_version``; else ``False``.

        An endpoint stored as disabled fails its pending deliveries in the same
        write: they wait, listed as failed, to be replayed once it is fixed.
        """
        ...

    async def delete(self, endpoint_id: UUID) -> bool:
        """Delete the endpoint and its deliveries; ``False`` if there was none."""
        ...

    async def failed(self, endpoint_id: UUID, now: datetime) -> WebhookEndpoint | None:
        """Count one more failed attempt in a row (from ``now``, if it is the first)."""
        ...

    async def recovered(self, endpoint_id: UUID) -> None:
        """Forget the endpoint's failures: an attempt succeeded."""
        ...


class WebhookDeliveryStore(Protocol):
    """Deliveries: leased by ``deliver`` workers, listed and replayed through the API.

    Claims are leases, as with the outbox: a worker that dies holding
    deliveries loses them when the lease ends, and another worker sends them
    (with the same ``webhook-id``, so the receiver can tell).
    """

    async def claim(
        self, owner: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due pending deliveries of active endpoints, most overdue first."""
        ...

    async def record_attempt(
        self, owner: str, delivery: WebhookDelivery, attempt: DeliveryAttempt
    ) -> bool:
        """Store ``delivery`` (its state after ``attempt``) and the attempt, ending the lease.

        ``False``, and nothing stored, if ``owner`` no longer holds the lease.
        """
        ...

    async def release(self, owner: str, delivery_ids: Sequence[UUID]) -> None:
        """Give back deliveries ``owner`` did not attempt (it is stopping), due at once."""
        ...

    async def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        """The delivery, or ``None``."""
        ...

    async def list_after(
        self, delivery_filter: DeliveryFilter, after: Cursor | None, *, limit: int
    ) -> list[WebhookDelivery]:
        """Matching deliveries, newest first, strictly after ``after``."""
        ...

    async def attempts(self, delivery_id: UUID) -> list[DeliveryAttempt]:
        """Every attempt of the delivery, first first."""
        ...

    async def replay(self, delivery_filter: DeliveryFilter, now: datetime, *, limit: int) -> int:
        """Make up to ``limit`` failed deliveries pending again, due at ``now``, attempts reset.

        ``delivery_filter.status`` is ignored: only failed deliveries are replayed.
        """
        ...

    async def backlog(self, now: datetime) -> list[EndpointBacklog]:
        """Pending deliveries per endpoint that has some, and the age of the most overdue."""
        ...


class WebhookStore(Protocol):
    """The endpoint and delivery tables, on the same database as the orders."""

    @property
    def endpoints(self) -> WebhookEndpointStore:
        """Subscribed endpoints."""
        ...

    @property
    def deliveries(self) -> WebhookDeliveryStore:
        """Deliveries and their attempts."""
        ...
