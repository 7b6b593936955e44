"""The outbox and inbox of the storage port, held against the real database.

Each test has a database of its own: the outbox is a queue, and other tests'
orders would be in it.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from {{ cookiecutter.package_name }}.container import open_event_store, open_storage
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderChanges, OrderLine, OrderStatus
from {{ cookiecutter.package_name }}.observability.tracing import continued_trace
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.events import EventStore
from {{ cookiecutter.package_name }}.storage.port import Storage

TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
LEASE = timedelta(seconds=30)


@pytest.fixture
async def stores(fresh_database_settings: Settings) -> AsyncIterator[tuple[Storage, EventStore]]:
    opened = open_storage(fresh_database_settings)
    try:
        yield opened, open_event_store(opened)
    finally:
        await opened.close()


@pytest.fixture
def storage(stores: tuple[Storage, EventStore]) -> Storage:
    return stores[0]


@pytest.fixture
def events(stores: tuple[Storage, EventStore]) -> EventStore:
    return stores[1]


def _order(customer_id: str = "c-1") -> Order:
    new = NewOrder(customer_id=customer_id, currency="EUR", lines=(OrderLine("A", 1, 100),))
    return Order.place(new, datetime.now(UTC))


async def _record(storage: Storage, *events: OrderEvent) -> None:
    async with storage.unit_of_work() as uow:
        with continued_trace(TRACE):
            for event in events:
                await uow.outbox.add(event)
        await uow.commit()


def _history(order: Order) -> list[OrderEvent]:
    """created, updated, deleted: three events of one order, in version order."""
    confirmed = order.apply(OrderChanges(status=OrderStatus.CONFIRMED), datetime.now(UTC))
    return [
        OrderEvent.created(order),
        OrderEvent.updated(confirmed),
        OrderEvent.deleted(confirmed, datetime.now(UTC)),
    ]


async def test_an_event_commits_or_rolls_back_with_its_unit_of_work(
    storage: Storage, events: EventStore
) -> None:
    kept, dropped = OrderEvent.created(_order()), OrderEvent.created(_order())
    await _record(storage, kept)
    async with storage.unit_of_work() as uow:
        await uow.outbox.add(dropped)  # no commit

    claimed = await events.outbox.claim("relay-a", limit=10, lease=LEASE, now=datetime.now(UTC))
    assert [pending.event for pending in claimed] == [kept]
    assert claimed[0].trace_context == TRACE
    assert claimed[0].attempts == 1


async def test_claims_take_the_oldest_event_of_each_order_only(
    storage: Storage, events: EventStore
) -> None:
    first, second = _history(_order()), _history(_order())
    await _record(storage, first[0], second[0], first[1], second[1], first[2])

    now = datetime.now(UTC)
    claimed = await events.outbox.claim("relay-a", limit=10, lease=LEASE, now=now)
    assert [pending.event.id for pending in claimed] == [first[0].id, second[0].id]
    # The next events of those orders wait until their predecessors are gone.
    assert await events.outbox.claim("relay-b", limit=10, lease=LEASE, now=now) == []

    assert await events.outbox.complete("relay-a", [first[0].id]) == 1
    following = await events.outbox.claim("relay-b", limit=10, lease=LEASE, now=now)
    assert [pending.event.id for pending in following] == [first[1].id]


async def test_a_lease_keeps_others_off_until_it_ends(storage: Storage, events: EventStore) -> None:
    event = OrderEvent.created(_order())
    await _record(storage, event)
    now = datetime.now(UTC)
    short = timedelta(seconds=5)

    assert len(await events.outbox.claim("crashed", limit=10, lease=short, now=now)) == 1
    assert await events.outbox.claim("relay-b", limit=10, lease=short, now=now) == []

    later = now + short + timedelta(seconds=1)
    retaken = await events.outbox.claim("relay-b", limit=10, lease=short, now=later)
    assert [pending.event.id for pending in retaken] == [event.id]
    assert retaken[0].attempts == 2
    # The crashed relay's late completion must not delete a row it no longer holds.
    assert await events.outbox.complete("crashed", [event.id]) == 0
    assert await events.outbox.complete("relay-b", [event.id]) == 1


async def test_a_released_claim_is_claimable_at_once(storage: Storage, events: EventStore) -> None:
    event = OrderEvent.created(_order())
    await _record(storage, event)
    now = datetime.now(UTC)
    await events.outbox.claim("relay-a", limit=10, lease=LEASE, now=now)

    await events.outbox.release("relay-a", [event.id])

    again = await events.outbox.claim("relay-b", limit=10, lease=LEASE, now=now)
    assert [pending.event.id for pending in again] == [event.id]


async def test_concurrent_claims_never_share_a_row(storage: Storage, events: EventStore) -> None:
    recorded = [OrderEvent.created(_order()) for _ in range(40)]
    await _record(storage, *recorded)
    now = datetime.now(UTC)

    batches = await asyncio.gather(
        *(events.outbox.claim(f"relay-{n}", limit=15, lease=LEASE, now=now) for n in range(4))
    )

    ids = [pending.event.id for batch in batches for pending in batch]
    assert len(ids) == len(set(ids)) == len(recorded)


async def test_the_backlog_counts_and_ages_pending_events(
    storage: Storage, events: EventStore
) -> None:
    order = _order()
    await _record(storage, OrderEvent.created(order))

    backlog = await events.outbox.backlog(order.created_at + timedelta(seconds=90))

    assert backlog.pending == 1
    assert backlog.oldest_age_seconds == pytest.approx(90, abs=1)


async def test_the_inbox_records_an_event_once_per_consumer(events: EventStore) -> None:
    event_id: UUID = uuid4()
    now = datetime.now(UTC)
    async with events.unit_of_work() as uow:
        assert await uow.inbox.record("customer-activity", event_id, now)
        await uow.commit()
    async with events.unit_of_work() as uow:
        assert not await uow.inbox.record("customer-activity", event_id, now)
        assert await uow.inbox.record("another-consumer", event_id, now)
        await uow.commit()

    async with events.unit_of_work() as uow:
        assert await uow.inbox.purge_before(now + timedelta(seconds=1)) == 2
        await uow.commit()


async def test_an_uncommitted_inbox_record_is_forgotten(events: EventStore) -> None:
    event_id = uuid4()
    async with events.unit_of_work() as uow:
        assert await uow.inbox.record("customer-activity", event_id, datetime.now(UTC))
    async with events.unit_of_work() as uow:
        assert await uow.inbox.record("customer-activity", event_id, datetime.now(UTC))


async def test_customer_activity_counts_orders_and_keeps_the_latest(events: EventStore) -> None:
    early = datetime(2026, 1, 1, tzinfo=UTC)
    late = early + timedelta(days=1)
    async with events.unit_of_work() as uow:
        await uow.customer_activity.order_placed("c-9", late)
        await uow.customer_activity.order_placed("c-9", early)
        await uow.commit()

    activity = await events.customer_activity.get("c-9")
    assert activity is not None
    assert (activity.orders_placed, activity.last_order_at) == (2, late)
    assert await events.customer_activity.get("nobody") is None
