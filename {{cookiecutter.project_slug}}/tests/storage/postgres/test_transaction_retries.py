"""Serialization failures and deadlocks (SQLSTATE 40001, 40P01) run the unit of work again.

Real failures on the real server: a trigger that fails the first inserts with
the SQLSTATE under test (its count lives in a sequence, which a rollback does
not undo), and two SERIALIZABLE transactions updating one row.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib.util import find_spec

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.application.orders import IdempotencyKey, OrderService
from {{ cookiecutter.package_name }}.container import open_storage
from {{ cookiecutter.package_name }}.domain.errors import ConcurrentModificationError, ServiceUnavailableError
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, OrderChanges, OrderLine, OrderStatus
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import Storage, TransactionConflictError
from {{ cookiecutter.package_name }}.storage.postgres.errors import translated_errors
from tests.support.waiting import eventually

PACKAGE = {{ cookiecutter.package_name }}.__name__
# A service with a broker writes an outbox row with every change; one without keeps none.
HAS_OUTBOX = find_spec(f"{PACKAGE}.storage.events") is not None
POLICY = RetryPolicy(
    attempts=3, wait_initial_seconds=0.01, wait_max_seconds=0.05, timeout_seconds=10
)
NEW_ORDER = NewOrder("customer-retried", "EUR", (OrderLine("SKU-1", 2, 500),))


def retries(operation: str) -> float:
    return (
        REGISTRY.get_sample_value("database_transaction_retries_total", {"operation": operation})
        or 0.0
    )


@pytest.fixture
async def database(fresh_database_settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own to the service's database, to set traps and count rows."""
    connection = await asyncpg.connect(str(fresh_database_settings.database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def own_storage(fresh_database_settings: Settings) -> AsyncIterator[Storage]:
    storage = open_storage(fresh_database_settings)
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture
def service(own_storage: Storage) -> OrderService:
    return OrderService(own_storage, idempotency_ttl=timedelta(hours=1), transaction_retry=POLICY)


async def fail_order_inserts(database: asyncpg.Connection, sqlstate: str, times: int) -> None:
    """The next ``times`` inserts into orders fail with ``sqlstate``; the later ones pass."""
    await database.execute(
        f"""
        CREATE SEQUENCE order_insert_attempts;
        CREATE FUNCTION fail_order_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('order_insert_attempts') <= {times:d} THEN
                RAISE EXCEPTION 'injected failure' USING ERRCODE = '{sqlstate}';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER fail_order_inserts BEFORE INSERT ON orders
            FOR EACH ROW EXECUTE FUNCTION fail_order_inserts();
        """
    )


async def attempts(database: asyncpg.Connection) -> int:
    return int(await database.fetchval("SELECT last_value FROM order_insert_attempts"))


async def rows(database: asyncpg.Connection, table: str) -> int:
    return int(await database.fetchval(f'SELECT count(*) FROM "{table}"'))  # noqa: S608 - a test's own table name


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.SerializationError("lost"),
        asyncpg.exceptions.DeadlockDetectedError("lost"),
    ],
)
def test_serialization_failures_and_deadlocks_are_transaction_conflicts(
    error: asyncpg.PostgresError,
) -> None:
    class AdaptedError(Exception):
        """The driver's error as SQLAlchemy's asyncpg dialect wraps it: the SQLSTATE kept."""

        sqlstate = error.sqlstate

    for raised in (error, DBAPIError("UPDATE orders", {}, AdaptedError())):
        with pytest.raises(TransactionConflictError), translated_errors():
            raise raised


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), ServiceUnavailableError),
        (asyncpg.exceptions.UniqueViolationError("taken"), asyncpg.exceptions.UniqueViolationError),
        (asyncpg.exceptions.UndefinedTableError("a bug"), asyncpg.exceptions.UndefinedTableError),
    ],
)
def test_other_failures_are_not_transaction_conflicts(
    error: asyncpg.PostgresError, expected: type[Exception]
) -> None:
    with pytest.raises(expected), translated_errors():
        raise error


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_a_create_that_loses_races_is_run_again_and_places_one_order(
    service: OrderService, database: asyncpg.Connection, sqlstate: str
) -> None:
    await fail_order_inserts(database, sqlstate, times=2)
    before = retries("orders.create")

    created = await service.create(NEW_ORDER, IdempotencyKey("key-retried", "tests"))

    assert await attempts(database) == 3
    assert retries("orders.create") == before + 2
    assert await rows(database, "orders") == 1
    assert await rows(database, "idempotency_keys") == 1
    if HAS_OUTBOX:
        assert await rows(database, "outbox") == 1
    replay = await service.create(NEW_ORDER, IdempotencyKey("key-retried", "tests"))
    assert replay.replayed
    assert replay.order.id == created.order.id


async def test_retries_stop_at_the_bound_with_nothing_written(
    service: OrderService, database: asyncpg.Connection
) -> None:
    await fail_order_inserts(database, "40001", times=1000)

    with pytest.raises(ConcurrentModificationError) as raised:
        await service.create(NEW_ORDER, IdempotencyKey("key-exhausted", "tests"))

    assert raised.value.code == "concurrent_modification"
    assert await attempts(database) == POLICY.attempts
    for table in ("orders", "idempotency_keys", *(["outbox"] if HAS_OUTBOX else [])):
        assert await rows(database, table) == 0, table


async def test_concurrent_serializable_updates_of_one_order_are_run_again(
    service: OrderService, database: asyncpg.Connection, fresh_database_settings: Settings
) -> None:
    name = (fresh_database_settings.database_url.path or "").strip("/")
    await database.execute(
        f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'serializable'"
    )
    order = (await service.create(NEW_ORDER)).order
    before = retries("orders.update")

    blocker = await asyncpg.connect(str(fresh_database_settings.database_url))
    try:
        blocking = blocker.transaction(isolation="serializable")
        await blocking.start()
        # Touch the row without changing its version: only the transactions collide.
        await blocker.execute("UPDATE orders SET updated_at = updated_at WHERE id = $1", order.id)
        update = asyncio.create_task(
            service.update(order.id, OrderChanges(status=OrderStatus.CONFIRMED))
        )
        await wait_for_a_lock_wait(database)
        await blocking.commit()
        updated = await asyncio.wait_for(update, timeout=10)
    finally:
        await blocker.close()

    assert (updated.status, updated.version) == (OrderStatus.CONFIRMED, order.version + 1)
    assert retries("orders.update") == before + 1
    if HAS_OUTBOX:
        assert await rows(database, "outbox") == 2


async def wait_for_a_lock_wait(database: asyncpg.Connection) -> None:
    """Until a session of this database waits for a lock (the service's update, blocked)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    async def waiting() -> bool:
        return bool(await database.fetchval(query))

    await eventually(waiting, seconds=10)
