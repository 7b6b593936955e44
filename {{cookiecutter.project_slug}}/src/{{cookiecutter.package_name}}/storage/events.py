"""The events port: the relay's side of the outbox and the consumer's inbox.

The API writes events through the unit of work's outbox (``storage.port``);
everything here serves the relay and consumer processes, which exist only when
the service has a broker.
"""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from {{ cookiecutter.package_name }}.domain.events import OrderEvent


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An outbox row a relay has claimed: the event and the trace it was recorded in."""

    event: OrderEvent
    trace_context: dict[str, str]
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """How far the relay is behind: unpublished events and the age of the oldest."""

    pending: int
    oldest_age_seconds: float


@dataclass(frozen=True, slots=True)
class CustomerActivity:
    """What the event consumer keeps per customer (the effect the inbox guards)."""

    customer_id: str
    orders_placed: int
    last_order_at: datetime


class OutboxRelayStore(Protocol):
    """The relay's side of the outbox: claim, then complete or release.

    Claims are leases: a relay that dies holding rows loses them when the lease
    ends, and another relay publishes them (consumers absorb the duplicate).
    """

    async def claim(
        self, owner: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingEvent]:
        """Lease up to ``limit`` unpublished events to ``owner``, oldest first.

        Only the oldest unpublished event of each order is claimable, so that two
        relays never publish one order's events out of order.
        """
        ...

    async def complete(self, owner: str, event_ids: Sequence[UUID]) -> int:
        """Forget published events that ``owner`` still holds; return how many."""
        ...

    async def release(self, owner: str, event_ids: Sequence[UUID]) -> None:
        """Give back events ``owner`` could not publish, for the next claim."""
        ...

    async def backlog(self, now: datetime) -> OutboxBacklog:
        """Unpublished events and how old the oldest is."""
        ...


class Inbox(Protocol):
    """Events a consumer has handled, recorded with the effect they had."""

    async def record(self, consumer: str, event_id: UUID, now: datetime) -> bool:
        """Mark ``event_id`` handled by ``consumer``; ``False`` if it already was."""
        ...

    async def purge_before(self, cutoff: datetime) -> int:
        """Forget events handled before ``cutoff``; return how many."""
        ...


class CustomerActivityWriter(Protocol):
    """The consumer's effect: a per-customer tally of placed orders."""

    async def order_placed(self, customer_id: str, at: datetime) -> None:
        """Count one more order for ``customer_id``."""
        ...


class CustomerActivityReader(Protocol):
    """Reads of the consumer's tally."""

    async def get(self, customer_id: str) -> CustomerActivity | None:
        """The customer's tally, or ``None`` before their first order event."""
        ...


class ConsumerUnitOfWork(Protocol):
    """One transaction of the consumer: the inbox record commits with the effect."""

    @property
    def inbox(self) -> Inbox:
        """Events handled in this transaction."""
        ...

    @property
    def customer_activity(self) -> CustomerActivityWriter:
        """The consumer's tally, in this transaction."""
        ...

    async def commit(self) -> None:
        """Make the record and the effect durable at once."""
        ...


class EventStore(Protocol):
    """The outbox and inbox tables, on the same database as the orders."""

    @property
    def outbox(self) -> OutboxRelayStore:
        """The relay's claims on the outbox."""
        ...

    @property
    def customer_activity(self) -> CustomerActivityReader:
        """The consumer's tally, outside any transaction."""
        ...

    def unit_of_work(self) -> AbstractAsyncContextManager[ConsumerUnitOfWork]:
        """Open a consumer transaction; leaving without commit rolls it back."""
        ...
