"""The storage port: what the use cases need from a database, and nothing more.

Adapters implement these protocols and translate their driver's failures into
the service's error taxonomy (a lost connection is ``ServiceUnavailableError``,
a unique-key clash is ``AlreadyExistsError``), so callers never see a driver.
"""
{% if cookiecutter.queue != "none" %}
from collections.abc import Mapping, Sequence
{%- endif %}
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass{% if cookiecutter.auth == "api_key" %}, field{% endif %}
from datetime import datetime{% if cookiecutter.queue != "none" %}, timedelta{% endif %}
from typing import Any, Protocol
from uuid import UUID

from {{ cookiecutter.package_name }}.application.pagination import Cursor
{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
{%- endif %}
from {{ cookiecutter.package_name }}.domain.orders import Order, OrderStatus


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
{%- if cookiecutter.auth == "api_key" %}


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    """An API key as stored: its public id and a keyed hash, never the key itself."""

    id: str
    client: str
    scopes: tuple[str, ...]
    key_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
{%- endif %}
{%- if cookiecutter.queue != "none" %}


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
{%- endif %}


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
{%- if cookiecutter.queue != "none" %}


class Outbox(Protocol):
    """Events written in the same transaction as the change they describe."""

    async def add(self, event: OrderEvent, trace_context: Mapping[str, str]) -> None:
        """Record ``event`` for the relay; it is published only if the unit of work commits."""
        ...


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
{%- endif %}

{%- if cookiecutter.auth == "api_key" %}


class ApiKeyStore(Protocol):
    """API keys by their public id; each write is a single statement, outside any unit of work."""

    async def create(self, key: StoredApiKey) -> None:
        """Store a new key; raise ``AlreadyExistsError`` if its id is taken."""
        ...

    async def find(self, key_id: str) -> StoredApiKey | None:
        """The key with this id (revoked and expired ones included), or ``None``."""
        ...

    async def list_keys(self, client: str | None = None) -> list[StoredApiKey]:
        """Every key, or the keys of ``client``, oldest first."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> StoredApiKey | None:
        """Mark the key revoked at ``at``, unless it already is; ``None`` for an unknown id."""
        ...

    async def touch(self, key_id: str, at: datetime, *, stale_before: datetime) -> bool:
        """Set ``last_used_at`` to ``at`` unless it is already ``stale_before`` or later."""
        ...
{%- endif %}


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
{%- if cookiecutter.queue != "none" %}

    @property
    def outbox(self) -> Outbox:
        """Events to publish if this transaction commits."""
        ...

    @property
    def inbox(self) -> Inbox:
        """Events handled in this transaction."""
        ...

    @property
    def customer_activity(self) -> CustomerActivityWriter:
        """The consumer's tally, in this transaction."""
        ...
{%- endif %}

    async def commit(self) -> None:
        """Make every write of this unit durable at once."""
        ...


class Storage(Protocol):
    """A connected database."""

    @property
    def orders(self) -> OrderReader:
        """Reads outside any transaction."""
        ...
{%- if cookiecutter.queue != "none" %}

    @property
    def outbox(self) -> OutboxRelayStore:
        """The relay's claims on the outbox."""
        ...

    @property
    def customer_activity(self) -> CustomerActivityReader:
        """The consumer's tally, outside any transaction."""
        ...
{%- endif %}
{%- if cookiecutter.auth == "api_key" %}

    @property
    def api_keys(self) -> ApiKeyStore:
        """The API keys callers authenticate with."""
        ...
{%- endif %}

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

    async def revision(self, message: str) -> None:
        """Write a new migration for the schema changes made in code."""
        ...

    async def close(self) -> None:
        """Release the migrator's connection."""
        ...
