"""A pooled connection whose transaction state its driver got wrong is discarded, not reused.

The driver (asyncpg) keeps its own note of the open transaction; should a BEGIN
or COMMIT be cut off halfway, it may believe a transaction open that the server
has ended, and then start every later one as a SAVEPOINT, which fails. The test
puts a connection in that state by hand, as the only one of its pool.
"""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

import asyncpg
import pytest

from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.container import open_storage
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, OrderLine
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.postgres.storage import PostgresStorage

NEW_ORDER = NewOrder("customer-desynced", "EUR", (OrderLine("SKU-1", 1, 100),))
ONCE = RetryPolicy(attempts=1, wait_initial_seconds=0.01, wait_max_seconds=0.01, timeout_seconds=5)


@pytest.fixture
async def storage(fresh_database_settings: Settings) -> AsyncIterator[PostgresStorage]:
    """Storage with a pool of one connection, so the next call gets the one the test broke."""
    one = fresh_database_settings.model_copy(
        update={"database_pool_size": 1, "database_max_overflow": 0}
    )
    storage = open_storage(one)
    try:
        yield storage
    finally:
        await storage.close()


async def out_of_step(storage: PostgresStorage) -> None:
    """Leave the pool's connection believing in a transaction the server has ended."""
    async with storage.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = cast("asyncpg.Connection", raw.driver_connection)
        await driver.transaction().start()
        await driver.execute("ROLLBACK")


async def test_a_connection_out_of_step_with_its_transaction_fails_once_then_is_replaced(
    storage: PostgresStorage,
) -> None:
    service = OrderService(storage, idempotency_ttl=timedelta(hours=1), transaction_retry=ONCE)
    await out_of_step(storage)

    with pytest.raises(ServiceUnavailableError):
        await service.create(NEW_ORDER, None)
    created = await service.create(NEW_ORDER, None)

    assert await service.get(created.order.id) == created.order
