"""The storage port on PostgreSQL.

Reads run on autocommit connections (no BEGIN/COMMIT round trips); writes run
in one transaction per unit of work. Driver errors never leave this module:
they become the service's own errors.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Self, cast
from uuid import UUID

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import IdempotencyKeyInUseError
from {{ cookiecutter.package_name }}.domain.orders import Order, OrderLine, OrderStatus
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import OrderFilter, Outbox, StoredResult
from {{ cookiecutter.package_name }}.storage.postgres.errors import (
    discard_broken_connections,
    translated_errors,
)
from {{ cookiecutter.package_name }}.storage.postgres.schema import idempotency_keys, orders
from {{ cookiecutter.package_name }}.storage.postgres.webhooks import PostgresWebhookInbox, PostgresWebhookOutbox

# How a unit of work gets its outbox: the broker's table, or none without a broker.
OutboxFactory = Callable[[AsyncConnection], Outbox]


def async_url(settings: Settings) -> str:
    """The SQLAlchemy URL for asyncpg, from a plain ``postgresql://`` DSN."""
    url = str(settings.database_url)
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if "+" not in scheme else url


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine with a bounded pool that fails fast rather than queueing forever."""
    engine = create_async_engine(
        async_url(settings),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_recycle=settings.database_pool_recycle_seconds,
        pool_pre_ping=settings.database_pool_pre_ping,
        connect_args={
            "timeout": settings.database_connect_timeout_seconds,
            "server_settings": {
                "application_name": settings.service_name,
                "statement_timeout": str(settings.database_statement_timeout_ms),
            },
        },
    )
    event.listen(engine.sync_engine, "handle_error", discard_broken_connections)
    return engine


def _order_from_row(row: RowMapping | asyncpg.Record) -> Order:
    return Order(
        id=row["id"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        lines=tuple(OrderLine(**line) for line in row["lines"]),
        status=OrderStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "currency": order.currency,
        "status": order.status.value,
        "lines": [line.snapshot() for line in order.lines],
        "total_minor": order.total_minor,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "version": order.version,
    }


def _matching(order_filter: OrderFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if order_filter.status is not None:
        conditions.append(orders.c.status == order_filter.status.value)
    if order_filter.customer_id is not None:
        conditions.append(orders.c.customer_id == order_filter.customer_id)
    return and_(True, *conditions)


def _newest_first(statement: Select[Any]) -> Select[Any]:
    return statement.order_by(orders.c.created_at.desc(), orders.c.id.desc())


class PostgresOrderReader:
    """Order reads on autocommit connections."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        lookup = select(orders).where(orders.c.id == bindparam("id"))
        self._get_sql = str(lookup.compile(dialect=engine.dialect))

    async def _fetch(self, statement: Select[Any]) -> list[Order]:
        with translated_errors():
            async with self._engine.connect() as connection:
                result = await connection.execute(statement)
                return [_order_from_row(row) for row in result.mappings()]

    async def get(self, order_id: UUID) -> Order | None:
        """The order, or ``None``.

        The hottest read runs precompiled SQL on the pooled connection's driver:
        SQLAlchemy's execution layer costs twice the CPU of the query itself
        (see the template's benchmark). The pool, its limits and the error
        translation stay the same; a connection that fails is invalidated.
        """
        with translated_errors():
            async with self._engine.connect() as connection:
                raw = await connection.get_raw_connection()
                driver = cast("asyncpg.Connection", raw.driver_connection)
                try:
                    row = await driver.fetchrow(self._get_sql, order_id)
                except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
                    await connection.invalidate()
                    raise
        return None if row is None else _order_from_row(row)

    async def count(self, order_filter: OrderFilter) -> int:
        """How many orders match."""
        statement = select(func.count()).select_from(orders).where(_matching(order_filter))
        with translated_errors():
            async with self._engine.connect() as connection:
                return int((await connection.execute(statement)).scalar_one())

    async def list_by_offset(
        self, order_filter: OrderFilter, *, offset: int, limit: int
    ) -> list[Order]:
        """Matches, newest first, from ``offset``."""
        statement = select(orders).where(_matching(order_filter))
        return await self._fetch(_newest_first(statement).offset(offset).limit(limit))

    async def list_after(
        self, order_filter: OrderFilter, *, after: Cursor | None, limit: int
    ) -> list[Order]:
        """Matches, newest first, strictly after ``after`` (keyset pagination)."""
        statement = select(orders).where(_matching(order_filter))
        if after is not None:
            position = tuple_(orders.c.created_at, orders.c.id)
            statement = statement.where(position < tuple_(after.created_at, after.id))
        return await self._fetch(_newest_first(statement).limit(limit))


class PostgresOrderWriter:
    """Order writes inside the unit of work's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, order: Order) -> None:
        """Insert a new order."""
        with translated_errors():
            await self._connection.execute(insert(orders).values(_order_values(order)))

    async def replace(self, order: Order, *, expected_version: int) -> bool:
        """Compare-and-set on the version."""
        statement = (
            update(orders)
            .where(orders.c.id == order.id, orders.c.version == expected_version)
            .values(_order_values(order))
        )
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount == 1

    async def delete(self, order_id: UUID, *, expected_version: int) -> bool:
        """Delete if still at ``expected_version``."""
        statement = delete(orders).where(
            orders.c.id == order_id, orders.c.version == expected_version
        )
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount == 1


class PostgresIdempotencyStore:
    """Idempotency keys held by a transaction-scoped advisory lock.

    The lock, not a row, marks a request in flight: if the process dies, the
    transaction ends, the lock goes with it, and the key is free for a retry.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, scope: str, key: str, now: datetime) -> StoredResult | None:
        """Take the key's lock (or fail at once) and return its unexpired result."""
        lock = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock, 0))")
        stored = select(idempotency_keys.c.fingerprint, idempotency_keys.c.result).where(
            idempotency_keys.c.scope == scope,
            idempotency_keys.c.key == key,
            idempotency_keys.c.expires_at > now,
        )
        with translated_errors():
            if not await self._connection.scalar(lock, {"lock": f"idempotency:{scope}:{key}"}):
                raise IdempotencyKeyInUseError
            row = (await self._connection.execute(stored)).one_or_none()
        return None if row is None else StoredResult(fingerprint=row[0], result=row[1])

    async def record(
        self,
        scope: str,
        key: str,
        *,
        fingerprint: str,
        result: dict[str, Any],
        expires_at: datetime,
    ) -> None:
        """Store the outcome, replacing an expired one under the same key."""
        statement = pg_insert(idempotency_keys).values(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            result=result,
            created_at=func.now(),
            expires_at=expires_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[idempotency_keys.c.scope, idempotency_keys.c.key],
            set_={
                name: statement.excluded[name]
                for name in ("fingerprint", "result", "created_at", "expires_at")
            },
        )
        with translated_errors():
            await self._connection.execute(statement)

    async def purge_expired(self, now: datetime) -> int:
        """Delete expired outcomes."""
        statement = delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now)
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount


class PostgresUnitOfWork:
    """One transaction on one pooled connection."""

    def __init__(self, connection: AsyncConnection, outbox: OutboxFactory) -> None:
        self._connection = connection
        self.orders = PostgresOrderWriter(connection)
        self.idempotency = PostgresIdempotencyStore(connection)
        self.outbox = outbox(connection)
        self.webhooks = PostgresWebhookOutbox(connection)
        self.webhook_inbox = PostgresWebhookInbox(connection)

    async def commit(self) -> None:
        """Commit the transaction."""
        with translated_errors():
            await self._connection.commit()


class PostgresStorage:
    """The storage port on a pooled async engine.

    ``engine`` is public for the other adapters of this database (events, API
    keys, webhooks), which share its pool.
    """

    def __init__(self, engine: AsyncEngine, *, outbox: OutboxFactory) -> None:
        self.engine = engine
        self.orders = PostgresOrderReader(engine)
        self._outbox = outbox

    @classmethod
    def from_settings(cls, settings: Settings, *, outbox: OutboxFactory) -> Self:
        """Build the engine; connections open lazily, on first use."""
        return cls(create_engine(settings), outbox=outbox)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresUnitOfWork]:
        """A transaction; leaving without commit rolls back."""
        with translated_errors():
            async with self.engine.connect() as connection:
                yield PostgresUnitOfWork(connection, self._outbox)

    async def ping(self) -> None:
        """Round-trip a trivial query."""
        with translated_errors():
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
