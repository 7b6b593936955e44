"""The storage port: what the use cases need from a database, and nothing more.

Adapters implement these protocols and translate their driver's failures into
the service's error taxonomy (a lost connection is ``ServiceUnavailableError``,
a unique-key clash is ``AlreadyExistsError``), so callers never see a driver.
"""

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import ConcurrentModificationError
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.orders import Order, OrderStatus
from {{ cookiecutter.package_name }}.storage.webhooks import WebhookInbox, WebhookOutbox


class TransactionConflictError(ConcurrentModificationError):
    """The unit of work's transaction lost a race with another one and was undone.

    Nothing of it was kept, so running the whole unit again is safe (a Postgres
    serialization failure or deadlock, a MongoDB transient transaction error).
    Callers that see it after the retries ran out get "concurrent modification".
    """


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a listing returns; ``None`` matches any."""

    status: OrderStatus | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredResult:
    """The remembered outcome of an idempotent request."""

    fingerprint: str
    result: dict[str, Any]


class OrderReader(Protocol):
    """Reads that need no transaction."""

    async def get(self, order_id: UUID) -> Order | None:
        """The order, or ``None``."""
        ...

    async def count(self, order_filter: OrderFilter) -> int:
        """How many orders match."""
        ...

    async def list_by_offset(
        self, order_filter: OrderFilter, *, offset: int, limit: int
    ) -> list[Order]:
        """Matches, newest first, from ``offset``."""
        ...

    async def list_after(
        self, order_filter: OrderFilter, *, after: Cursor | None, limit: int
    ) -> list[Order]:
        """Matches, newest first, strictly after ``after``."""
        ...


class OrderWriter(Protocol):
    """Writes, inside a unit of work."""

    async def add(self, order: Order) -> None:
        """Insert a new order."""
        ...

    async def replace(self, order: Order, *, expected_version: int) -> bool:
        """Store ``order`` if the stored one is at ``expected_version``; else ``False``."""
        ...

    async def delete(self, order_id: UUID, *, expected_version: int) -> bool:
        """Delete if the stored order is at ``expected_version``; else ``False``."""
        ...


class IdempotencyStore(Protocol):
    """Remembered outcomes of requests that carried an idempotency key."""

    async def claim(self, scope: str, key: str, now: datetime) -> StoredResult | None:
        """Hold ``key`` until the unit of work ends and return its unexpired result.

        Raises ``IdempotencyKeyInUseError`` while another unit of work holds it.
        """
        ...

    async def record(
        self,
        scope: str,
        key: str,
        *,
        fingerprint: str,
        result: dict[str, Any],
        expires_at: datetime,
    ) -> None:
        """Remember the outcome of a claimed key (committed with the unit of work)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete outcomes that expired before ``now``; return how many."""
        ...


class Outbox(Protocol):
    """Events written in the same transaction as the change they describe.

    The adapter records the caller's trace context with each event, so that the
    trace continues wherever the event is published.
    """

    async def add(self, event: OrderEvent) -> None:
        """Record ``event``; it is published only if the unit of work commits."""
        ...


class UnitOfWork(Protocol):
    """One transaction: nothing is kept unless :meth:`commit` is awaited."""

    @property
    def orders(self) -> OrderWriter:
        """Order writes in this transaction."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore:
        """Idempotency keys in this transaction."""
        ...

    @property
    def outbox(self) -> Outbox:
        """Events to publish if this transaction commits."""
        ...

    @property
    def webhooks(self) -> WebhookOutbox:
        """Webhook deliveries to make if this transaction commits."""
        ...

    @property
    def webhook_inbox(self) -> WebhookInbox:
        """Ids of the webhooks received, kept if this transaction commits."""
        ...

    async def commit(self) -> None:
        """Make every write of this unit durable at once."""
        ...


class Storage(Protocol):
    """A connected database."""

    @property
    def orders(self) -> OrderReader:
        """Reads outside any transaction."""
        ...

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Open a transaction; leaving without commit rolls it back."""
        ...

    async def ping(self) -> None:
        """Raise ``ServiceUnavailableError`` unless the database answers."""
        ...

    async def close(self) -> None:
        """Release every connection."""
        ...


class Migrator(Protocol):
    """Moves the schema between revisions; each database brings its own."""

    async def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``."""
        ...

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``base`` reverts them all)."""
        ...

    async def current(self) -> str | None:
        """The applied revision, or ``None`` on an empty database."""
        ...

    async def pending(self) -> list[str]:
        """The revisions this code knows and the database lacks, oldest first.

        Empty also when the database is at a revision newer than this code
        knows (a later release migrated it): code stays compatible with the
        schema of the release after it.
        """
        ...

    async def revision(self, message: str) -> None:
        """Write a new migration for the schema changes made in code."""
        ...

    async def close(self) -> None:
        """Release the migrator's connection."""
        ...
