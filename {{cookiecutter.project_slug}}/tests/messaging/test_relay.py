"""The outbox relay against the real database and broker: order, safety, outages."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.container import open_broker
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.domain.events import OrderEventType
from {{ cookiecutter.package_name }}.domain.orders import OrderChanges, OrderStatus
from {{ cookiecutter.package_name }}.messaging.cloudevents import to_message
from {{ cookiecutter.package_name }}.messaging.consumer import Outcome
from {{ cookiecutter.package_name }}.messaging.relay import OutboxRelay
from tests.messaging.conftest import EventPath
from tests.messaging.orders import new_order, receive_events
from tests.messaging.receiving import Receiver
from tests.support.broker import BrokerServer
from tests.support.tcp_proxy import TcpProxy


def _published(event_type: OrderEventType) -> float:
    value = REGISTRY.get_sample_value("outbox_events_published_total", {"type": event_type.value})
    return value or 0.0


async def consume_all(event_path: EventPath) -> list[Outcome]:
    """Settle the deliveries waiting, then any more until none comes for a second."""
    consumer = event_path.consumer()
    receiver = Receiver(event_path.broker)
    outcomes = [await consumer.settle(await receiver.next())]
    while True:
        try:
            delivery = await receiver.next(seconds=1.0)
        except TimeoutError:
            await receiver.close()
            return outcomes
        outcomes.append(await consumer.settle(delivery))


def assert_each_handled_once(outcomes: list[Outcome], events: int) -> None:
    """Every event had its effect once; anything more was a duplicate the inbox absorbed."""
    assert outcomes.count(Outcome.HANDLED) == events
    assert set(outcomes) <= {Outcome.HANDLED, Outcome.DUPLICATE}


async def _drain(relay: OutboxRelay) -> int:
    """Relay until the outbox is empty; how many events went out."""
    total = 0
    while published := await relay.relay_once():
        total += published
    return total


async def test_the_relay_publishes_each_orders_events_in_order_then_forgets_them(
    event_path: EventPath, customer_id: str
) -> None:
    orders = event_path.container.orders
    first = (await orders.create(new_order(customer_id))).order
    await orders.update(first.id, OrderChanges(status=OrderStatus.CONFIRMED))
    await orders.delete(first.id)
    second = (await orders.create(new_order(customer_id))).order
    created_before = _published(OrderEventType.CREATED)

    assert await _drain(event_path.relay()) == 4

    receiver = Receiver(event_path.broker)
    events = await receive_events(receiver, 4)
    await receiver.close()
    by_order = {
        order_id: [(e.type, e.version) for e in events if e.order_id == order_id]
        for order_id in (first.id, second.id)
    }
    assert by_order[first.id] == [
        (OrderEventType.CREATED, 1),
        (OrderEventType.UPDATED, 2),
        (OrderEventType.DELETED, 3),
    ]
    assert by_order[second.id] == [(OrderEventType.CREATED, 1)]
    backlog = await event_path.container.events.outbox.backlog(datetime.now(UTC))
    assert backlog.pending == 0
    assert _published(OrderEventType.CREATED) - created_before == 2


async def test_two_relays_publish_every_event_exactly_once(
    event_path: EventPath, customer_id: str
) -> None:
    orders = event_path.container.orders
    placed = [(await orders.create(new_order(customer_id))).order for _ in range(20)]
    for order in placed:
        await orders.update(order.id, OrderChanges(status=OrderStatus.CONFIRMED))

    async with open_broker(event_path.settings) as second_broker:
        relays = [
            event_path.relay(owner="relay-a"),
            OutboxRelay(
                event_path.container.events.outbox,
                second_broker,
                event_path.settings,
                owner="relay-b",
            ),
        ]
        stop = asyncio.Event()
        running = [asyncio.create_task(relay.run(stop)) for relay in relays]
        receiver = Receiver(event_path.broker)
        events = await receive_events(receiver, 2 * len(placed))
        stop.set()
        await asyncio.gather(*running)

    assert await receiver.nothing_within(1.0)
    await receiver.close()
    assert len({event.id for event in events}) == len(events) == 2 * len(placed)
    for order in placed:
        kinds = [event.type for event in events if event.order_id == order.id]
        assert kinds == [OrderEventType.CREATED, OrderEventType.UPDATED]


async def test_a_relay_that_dies_mid_round_loses_nothing_and_the_duplicate_is_absorbed(
    event_path: EventPath, customer_id: str
) -> None:
    orders = event_path.container.orders
    for _ in range(3):
        await orders.create(new_order(customer_id))
    store = event_path.container.events.outbox
    # A relay claims and publishes, then dies before it can forget the rows.
    lease = timedelta(seconds=1)
    claimed = await store.claim("crashed", limit=10, lease=lease, now=datetime.now(UTC))
    await event_path.broker.publish(
        [to_message(p, event_path.settings.events_source) for p in claimed]
    )
    await asyncio.sleep(lease.total_seconds() + 0.2)

    assert await _drain(event_path.relay()) == 3

    # Each event went out twice; a broker that deduplicates by message id (JetStream)
    # absorbs the second copy itself, the others deliver it and the inbox absorbs it.
    assert_each_handled_once(await consume_all(event_path), 3)
    assert await event_path.orders_placed(customer_id) == 3


async def test_a_broker_outage_keeps_the_events_until_the_broker_is_back(
    event_path: EventPath, broker_server: BrokerServer, customer_id: str
) -> None:
    orders = event_path.container.orders
    settings = event_path.settings
    failures_before = REGISTRY.get_sample_value("outbox_publish_failures_total") or 0.0
    async with (
        TcpProxy(*broker_server.address(settings)) as proxy,
        open_broker(broker_server.through(settings, proxy.port)) as cut_off,
    ):
        relay = OutboxRelay(event_path.container.events.outbox, cut_off, settings)
        proxy.cut()
        for _ in range(5):
            await orders.create(new_order(customer_id))
        with pytest.raises(ServiceUnavailableError):
            await relay.relay_once()
        backlog = await event_path.container.events.outbox.backlog(datetime.now(UTC))
        assert backlog.pending == 5
        assert (REGISTRY.get_sample_value("outbox_publish_failures_total") or 0.0) > failures_before

        proxy.restore()
        async with asyncio.timeout(60):
            published = 0
            while published < 5:
                try:
                    published += await relay.relay_once()
                except ServiceUnavailableError:
                    await asyncio.sleep(0.2)

    # A publish cut off before its confirmation may have reached the broker all the same.
    assert_each_handled_once(await consume_all(event_path), 5)
    assert await event_path.orders_placed(customer_id) == 5
