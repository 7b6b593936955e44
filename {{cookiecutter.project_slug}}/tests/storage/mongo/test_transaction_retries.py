"""Transient transaction errors run the unit of work again; a commit of unknown outcome is resent.

The write conflict is real: another session's transaction holds an
uncommitted write to the order while the service updates it.
"""

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec

import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
)

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.container import open_storage
from {{ cookiecutter.package_name }}.domain.errors import (
    AlreadyExistsError,
    ConcurrentModificationError,
    ServiceUnavailableError,
)
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderChanges, OrderLine, OrderStatus
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.mongo.client import service_error
from {{ cookiecutter.package_name }}.storage.mongo.storage import ORDERS, MongoStorage
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

PACKAGE = {{ cookiecutter.package_name }}.__name__
# A service with a broker writes an outbox document with every change; one without keeps none.
HAS_OUTBOX = find_spec(f"{PACKAGE}.storage.events") is not None
NEW_ORDER = NewOrder("customer-retried", "EUR", (OrderLine("SKU-1", 2, 500),))


def labelled(code: int, *labels: str) -> OperationFailure:
    """A server reply as the driver raises it, with its error labels."""
    return OperationFailure("failed", code, {"code": code, "errorLabels": list(labels)})


def retries(operation: str) -> float:
    return (
        REGISTRY.get_sample_value("database_transaction_retries_total", {"operation": operation})
        or 0.0
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (labelled(112, "TransientTransactionError"), TransactionConflictError),
        (labelled(112), TransactionConflictError),
        (labelled(251, "TransientTransactionError"), TransactionConflictError),
        (labelled(91, "TransientTransactionError"), ServiceUnavailableError),
        (labelled(50, "UnknownTransactionCommitResult"), ServiceUnavailableError),
        (AutoReconnect("gone"), ServiceUnavailableError),
        (NetworkTimeout("slow"), ServiceUnavailableError),
        (DuplicateKeyError("taken", 11000), AlreadyExistsError),
    ],
)
def test_driver_failures_become_the_services_errors(
    error: PyMongoError, expected: type[Exception]
) -> None:
    assert type(service_error(error)) is expected


def test_a_commit_of_unknown_outcome_is_never_a_transaction_conflict() -> None:
    error = labelled(112, "TransientTransactionError", "UnknownTransactionCommitResult")
    assert type(service_error(error)) is ServiceUnavailableError


def test_a_failure_that_no_retry_can_fix_stays_a_driver_error() -> None:
    assert service_error(labelled(2)) is None


@pytest.fixture
async def own_storage(fresh_database_settings: Settings) -> AsyncIterator[MongoStorage]:
    storage = open_storage(fresh_database_settings)
    assert isinstance(storage, MongoStorage)
    try:
        yield storage
    finally:
        await storage.close()


def service_with(storage: MongoStorage, policy: RetryPolicy) -> OrderService:
    return OrderService(storage, idempotency_ttl=timedelta(hours=1), transaction_retry=policy)


async def hold_a_write(
    storage: MongoStorage, session: AsyncClientSession, order_id: object
) -> None:
    """An uncommitted write to the order in ``session``'s transaction, as another request's."""
    await session.start_transaction()
    await storage.database[ORDERS].update_one(
        {"_id": order_id}, {"$set": {"updated_at": datetime.now(UTC)}}, session=session
    )


async def wait_for_retries(operation: str, above: float) -> None:
    async def retried() -> bool:
        return retries(operation) > above

    await eventually(retried, seconds=10)


async def test_an_update_that_meets_a_write_conflict_is_run_again_after_it_ends(
    own_storage: MongoStorage,
) -> None:
    patient = RetryPolicy(
        attempts=50, wait_initial_seconds=0.02, wait_max_seconds=0.1, timeout_seconds=10
    )
    service = service_with(own_storage, patient)
    order = (await service.create(NEW_ORDER)).order
    before = retries("orders.update")

    async with own_storage.client.start_session() as other:
        await hold_a_write(own_storage, other, order.id)
        update = asyncio.create_task(
            service.update(order.id, OrderChanges(status=OrderStatus.CONFIRMED))
        )
        await wait_for_retries("orders.update", above=before)
        await other.abort_transaction()
        updated = await asyncio.wait_for(update, timeout=10)

    assert (updated.status, updated.version) == (OrderStatus.CONFIRMED, order.version + 1)
    stored = await own_storage.orders.get(order.id)
    assert stored == updated
    if HAS_OUTBOX:
        outbox = own_storage.database["outbox"]
        assert await outbox.count_documents({"aggregate_id": order.id}) == 2


async def test_a_write_conflict_that_outlasts_the_retries_is_a_concurrent_modification(
    own_storage: MongoStorage,
) -> None:
    brief = RetryPolicy(
        attempts=3, wait_initial_seconds=0.01, wait_max_seconds=0.02, timeout_seconds=5
    )
    service = service_with(own_storage, brief)
    order = (await service.create(NEW_ORDER)).order
    before = retries("orders.update")

    async with own_storage.client.start_session() as other:
        await hold_a_write(own_storage, other, order.id)
        with pytest.raises(ConcurrentModificationError) as raised:
            await service.update(order.id, OrderChanges(status=OrderStatus.CONFIRMED))
        await other.abort_transaction()

    assert isinstance(raised.value, TransactionConflictError)
    assert retries("orders.update") == before + brief.attempts - 1
    assert await own_storage.orders.get(order.id) == order


async def test_a_commit_whose_connection_failed_is_sent_again_not_the_unit_of_work(
    proxied_database: tuple[Settings, TcpProxy], database_settings: Settings
) -> None:
    settings, proxy = proxied_database
    storage = open_storage(settings)
    assert isinstance(storage, MongoStorage)
    order = Order.place(NEW_ORDER, datetime.now(UTC))
    try:
        async with storage.unit_of_work() as uow:
            await uow.orders.add(order)
            proxy.cut()
            committing = asyncio.create_task(uow.commit())
            await asyncio.sleep(0.2)
            proxy.restore()
            await asyncio.wait_for(committing, timeout=15)
    finally:
        await proxy.restored(storage.ping)
        await storage.close()

    direct = open_storage(database_settings)
    try:
        assert await direct.orders.get(order.id) == order
    finally:
        await direct.close()


async def test_a_commit_whose_outcome_stays_unknown_is_unavailability(
    proxied_database: tuple[Settings, TcpProxy], service_log: io.StringIO
) -> None:
    settings, proxy = proxied_database
    storage = open_storage(settings)
    assert isinstance(storage, MongoStorage)
    try:
        async with storage.unit_of_work() as uow:
            await uow.orders.add(Order.place(NEW_ORDER, datetime.now(UTC)))
            proxy.cut()
            with pytest.raises(ServiceUnavailableError):
                await uow.commit()
    finally:
        await proxy.restored(storage.ping)
        await storage.close()

    lines = [json.loads(line) for line in service_log.getvalue().splitlines()]
    resent = [line for line in lines if line.get("event") == "retry_scheduled"]
    assert resent, "the commit was not sent again"
    assert {line["operation"] for line in resent} == {"mongodb.commit_transaction"}
