"""Outbox, inbox and the consumer's tally on PostgreSQL.

The outbox and inbox writers share the unit of work's connection, so an event
row commits or rolls back with the change it describes. The relay claims rows
by leasing them in one statement (``FOR UPDATE SKIP LOCKED`` keeps concurrent
relays off each other's rows) and holds no transaction while it publishes.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.observability.tracing import trace_headers
from {{ cookiecutter.package_name }}.storage.events import CustomerActivity, OutboxBacklog, PendingEvent
from {{ cookiecutter.package_name }}.storage.postgres.errors import translated_errors
from {{ cookiecutter.package_name }}.storage.postgres.schema import metadata

# Events waiting for the relay, written in the transaction of the change they describe.
# ``position`` is the commit-independent write order; a relay claims a row by leasing it.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("position", BigInteger, Identity(always=True), nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("trace_context", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Index("ix_outbox_position", "position"),
    Index(
        "ix_outbox_aggregate_id_aggregate_version", "aggregate_id", "aggregate_version", unique=True
    ),
)

# The inbox: events each consumer has handled, kept for the redelivery window and beyond.
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", Uuid, primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    Index("ix_processed_events_processed_at", "processed_at"),
)

# The example consumer's effect: orders placed per customer.
customer_activity = Table(
    "customer_activity",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("orders_placed", Integer, nullable=False),
    Column("last_order_at", DateTime(timezone=True), nullable=False),
)


def _pending(row: RowMapping) -> PendingEvent:
    event = OrderEvent(
        id=row["id"],
        type=OrderEventType(row["type"]),
        order_id=row["aggregate_id"],
        version=row["aggregate_version"],
        occurred_at=row["occurred_at"],
        data=row["data"],
    )
    return PendingEvent(event=event, trace_context=row["trace_context"], attempts=row["attempts"])


class PostgresOutbox:
    """Event rows inside the unit of work's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, event: OrderEvent) -> None:
        """Insert the event row, with the current trace; the relay sees it once committed."""
        values: dict[str, Any] = {
            "id": event.id,
            "aggregate_id": event.order_id,
            "aggregate_version": event.version,
            "type": event.type.value,
            "occurred_at": event.occurred_at,
            "data": event.data,
            "trace_context": trace_headers(),
            "attempts": 0,
        }
        with translated_errors():
            await self._connection.execute(outbox.insert().values(values))


class PostgresOutboxRelayStore:
    """Leased claims on the outbox, each in its own short autocommit statement."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def claim(
        self, owner: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingEvent]:
        """Lease the oldest claimable rows: free ones that head their order's queue."""
        earlier = outbox.alias("earlier")
        heads = (
            select(outbox.c.id)
            .where(
                or_(outbox.c.lease_expires_at.is_(None), outbox.c.lease_expires_at < now),
                ~exists().where(
                    earlier.c.aggregate_id == outbox.c.aggregate_id,
                    earlier.c.aggregate_version < outbox.c.aggregate_version,
                ),
            )
            .order_by(outbox.c.position)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(heads))
            .values(lease_owner=owner, lease_expires_at=now + lease, attempts=outbox.c.attempts + 1)
            .returning(*outbox.c)
        )
        with translated_errors():
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).mappings().all()
        return [_pending(row) for row in sorted(rows, key=lambda row: row["position"])]

    async def complete(self, owner: str, event_ids: Sequence[UUID]) -> int:
        """Delete the published rows, unless their lease passed to another relay."""
        statement = delete(outbox).where(outbox.c.id.in_(event_ids), outbox.c.lease_owner == owner)
        with translated_errors():
            async with self._engine.connect() as connection:
                return (await connection.execute(statement)).rowcount

    async def release(self, owner: str, event_ids: Sequence[UUID]) -> None:
        """End the lease at once, so the next claim (by anyone) retries the rows."""
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(event_ids), outbox.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        with translated_errors():
            async with self._engine.connect() as connection:
                await connection.execute(statement)

    async def backlog(self, now: datetime) -> OutboxBacklog:
        """Count and age of the unpublished rows."""
        statement = select(func.count(), func.min(outbox.c.occurred_at))
        with translated_errors():
            async with self._engine.connect() as connection:
                pending, oldest = (await connection.execute(statement)).one()
        age = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
        return OutboxBacklog(pending=pending, oldest_age_seconds=age)


class PostgresInbox:
    """Handled event ids, inside the unit of work's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record(self, consumer: str, event_id: UUID, now: datetime) -> bool:
        """Insert the id; a concurrent duplicate waits on the key, then finds it taken."""
        statement = (
            pg_insert(processed_events)
            .values(consumer=consumer, event_id=event_id, processed_at=now)
            .on_conflict_do_nothing()
        )
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount == 1

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete ids handled before ``cutoff``."""
        statement = delete(processed_events).where(processed_events.c.processed_at < cutoff)
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount


class PostgresCustomerActivityWriter:
    """The tally, inside the unit of work's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def order_placed(self, customer_id: str, at: datetime) -> None:
        """Upsert: one more order, and the latest time seen."""
        insert = pg_insert(customer_activity).values(
            customer_id=customer_id, orders_placed=1, last_order_at=at
        )
        statement = insert.on_conflict_do_update(
            index_elements=[customer_activity.c.customer_id],
            set_={
                "orders_placed": customer_activity.c.orders_placed + 1,
                "last_order_at": func.greatest(customer_activity.c.last_order_at, at),
            },
        )
        with translated_errors():
            await self._connection.execute(statement)


class PostgresCustomerActivityReader:
    """The tally, read outside any transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def get(self, customer_id: str) -> CustomerActivity | None:
        """One customer's tally."""
        statement = select(customer_activity).where(customer_activity.c.customer_id == customer_id)
        with translated_errors():
            async with self._engine.connect() as connection:
                row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return CustomerActivity(
            customer_id=row["customer_id"],
            orders_placed=row["orders_placed"],
            last_order_at=row["last_order_at"],
        )


class PostgresConsumerUnitOfWork:
    """One consumer transaction on one pooled connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.inbox = PostgresInbox(connection)
        self.customer_activity = PostgresCustomerActivityWriter(connection)

    async def commit(self) -> None:
        """Commit the transaction."""
        with translated_errors():
            await self._connection.commit()


class PostgresEventStore:
    """The events port on the storage adapter's engine (its pool is shared)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.outbox = PostgresOutboxRelayStore(engine)
        self.customer_activity = PostgresCustomerActivityReader(engine)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresConsumerUnitOfWork]:
        """A transaction; leaving without commit rolls back."""
        with translated_errors():
            async with self._engine.connect() as connection:
                yield PostgresConsumerUnitOfWork(connection)
