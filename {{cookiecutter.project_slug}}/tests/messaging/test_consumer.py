"""The event consumer against the real database and broker: once in effect, whatever arrives."""

import asyncio
import time
from dataclasses import replace

import orjson
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.container import build_container
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.messaging.cloudevents import to_message
from {{ cookiecutter.package_name }}.messaging.consumer import Outcome
from {{ cookiecutter.package_name }}.messaging.port import Broker, Message
from tests.messaging.conftest import EventPath
from tests.messaging.orders import order_created, pending
from tests.messaging.receiving import Receiver, make_message
from tests.support.database import DatabaseServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually


def _created(customer_id: str, source: str) -> Message:
    return to_message(pending(order_created(customer_id)), source)


async def test_an_event_has_one_effect_however_often_it_arrives(
    event_path: EventPath, customer_id: str
) -> None:
    message = _created(customer_id, event_path.settings.events_source)
    # Copies of one event under transport ids of their own, as a second relay or a replay
    # after the broker's de-duplication window would send them (JetStream drops a repeated
    # message id by itself).
    copies = [replace(message, id=f"{message.id}-{n}") for n in range(2)]
    await event_path.broker.publish([message, *copies])

    consumer = event_path.consumer()
    receiver = Receiver(event_path.broker)
    outcomes = [await consumer.settle(await receiver.next()) for _ in range(3)]
    await receiver.close()

    assert outcomes == [Outcome.HANDLED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert await event_path.orders_placed(customer_id) == 1


async def test_a_malformed_message_is_dead_lettered_without_retries(
    event_path: EventPath,
) -> None:
    poison = make_message(body=b"{not json")
    await event_path.broker.publish([poison])

    receiver = Receiver(event_path.broker)
    delivery = await receiver.next()
    assert await event_path.consumer().settle(delivery) is Outcome.DEAD_LETTERED
    assert delivery.attempt == 1
    assert await receiver.nothing_within(1.0)
    await receiver.close()

    letters = await event_path.broker.dead_letters(10)
    assert [letter.message.id for letter in letters] == [poison.id]
    assert "MalformedEventError" in letters[0].error


async def test_an_event_of_an_unknown_type_is_acked_and_ignored(event_path: EventPath) -> None:
    envelope = orjson.loads(_created("c-1", "/other").body)
    envelope["type"] = "com.example.invoice.paid.v1"
    foreign = make_message(body=orjson.dumps(envelope))
    await event_path.broker.publish([foreign])

    receiver = Receiver(event_path.broker)
    assert await event_path.consumer().settle(await receiver.next()) is Outcome.IGNORED
    assert await receiver.nothing_within(1.0)
    await receiver.close()
    assert await event_path.broker.dead_letters(10) == []


class BuggyFulfilment:
    """A fulfilment adapter with a bug: every request fails until ``fixed``."""

    def __init__(self) -> None:
        self.fixed = False
        self.requests = 0

    async def request(self, event: OrderEvent) -> None:
        self.requests += 1
        if not self.fixed:
            message = f"bug: cannot fulfil {event.id}"
            raise RuntimeError(message)


def _delays() -> float:
    return REGISTRY.get_sample_value("consumer_delays_total") or 0.0


def _holding() -> bool:
    return REGISTRY.get_sample_value("consumer_holding_message") == 1.0


def _shares_partitions_by_rebalance(broker: Broker) -> bool:
    """Kafka: a second member of the group takes partitions (held messages too) by design."""
    return type(broker).__module__.rpartition(".")[2] == "kafka"


async def test_a_database_outage_holds_the_event_without_spending_attempts_until_it_is_back(
    event_path: EventPath, database_server: DatabaseServer, customer_id: str
) -> None:
    settings = event_path.settings
    message = _created(customer_id, settings.events_source)
    await event_path.broker.publish([message])
    delays_before = _delays()

    async with (
        TcpProxy(*database_server.address(settings)) as proxy,
        build_container(database_server.through(settings, proxy.port)) as cut_off,
    ):
        consumer = event_path.consumer(container=cut_off)
        proxy.cut()
        receiver = Receiver(event_path.broker)
        delivery = await receiver.next()
        started = time.monotonic()
        settling = asyncio.create_task(consumer.settle(delivery))

        async def outlasted_the_retries() -> bool:
            return _delays() - delays_before > settings.consumer_max_attempts

        await eventually(outlasted_the_retries)
        await asyncio.sleep(settings.consumer_ack_timeout_seconds + started - time.monotonic())
        assert not settling.done()
        assert _holding()

        proxy.restore()
        async with asyncio.timeout(10):
            assert await settling is Outcome.HANDLED
        assert not _holding()
        assert delivery.attempt == 1
        assert await receiver.nothing_within(1.0)
        await receiver.close()

    assert await event_path.orders_placed(customer_id) == 1
    assert await event_path.broker.dead_letters(10) == []


async def test_a_held_event_stays_with_its_consumer_past_the_ack_timeout(
    event_path: EventPath, database_server: DatabaseServer, customer_id: str
) -> None:
    settings = event_path.settings
    message = _created(customer_id, settings.events_source)
    await event_path.broker.publish([message])

    async with (
        TcpProxy(*database_server.address(settings)) as proxy,
        build_container(database_server.through(settings, proxy.port)) as cut_off,
    ):
        consumer = event_path.consumer(container=cut_off)
        proxy.cut()
        receiver = Receiver(event_path.broker)
        delivery = await receiver.next()
        settling = asyncio.create_task(consumer.settle(delivery))
        if _shares_partitions_by_rebalance(event_path.broker):
            # No second member (it would take partitions); the hold must keep this one in.
            await asyncio.sleep(2 * settings.consumer_ack_timeout_seconds)
        else:
            other = Receiver(event_path.broker)
            assert await other.nothing_within(2 * settings.consumer_ack_timeout_seconds)
            await other.close()
        assert not settling.done()

        proxy.restore()
        async with asyncio.timeout(10):
            assert await settling is Outcome.HANDLED
        assert await receiver.nothing_within(1.0)
        await receiver.close()

    assert await event_path.orders_placed(customer_id) == 1
    assert await event_path.broker.dead_letters(10) == []


async def test_a_bug_is_retried_then_dead_lettered_and_replays_after_the_fix(
    event_path: EventPath, customer_id: str
) -> None:
    settings = event_path.settings
    message = _created(customer_id, settings.events_source)
    await event_path.broker.publish([message])
    fulfilment = BuggyFulfilment()
    consumer = event_path.consumer(fulfilment)

    receiver = Receiver(event_path.broker)
    outcomes = [await consumer.settle(await receiver.next()) for _ in range(3)]
    assert outcomes == [Outcome.RETRIED, Outcome.RETRIED, Outcome.DEAD_LETTERED]
    letters = await event_path.broker.dead_letters(10)
    assert [letter.message.id for letter in letters] == [message.id]
    assert "RuntimeError: bug" in letters[0].error
    assert await event_path.orders_placed(customer_id) == 0

    fulfilment.fixed = True
    assert await event_path.broker.replay_dead_letters(10) == 1
    assert await consumer.settle(await receiver.next()) is Outcome.HANDLED
    await receiver.close()

    assert fulfilment.requests == 4
    assert await event_path.orders_placed(customer_id) == 1
    assert await event_path.broker.dead_letters(10) == []


async def test_a_stop_ends_a_hold_at_once_and_the_event_is_handled_later(
    event_path: EventPath, database_server: DatabaseServer, customer_id: str
) -> None:
    settings = event_path.settings
    await event_path.broker.publish([_created(customer_id, settings.events_source)])

    async with (
        TcpProxy(*database_server.address(settings)) as proxy,
        build_container(database_server.through(settings, proxy.port)) as cut_off,
    ):
        consumer = event_path.consumer(container=cut_off)
        proxy.cut()
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))

        async def holding() -> bool:
            return _holding()

        await eventually(holding, seconds=20)
        stop.set()
        async with asyncio.timeout(3):
            await running
        assert not _holding()
        await proxy.restored(cut_off.storage.ping)

    # Back with the broker: the next consumer handles it once.
    receiver = Receiver(event_path.broker)
    assert await event_path.consumer().settle(await receiver.next()) is Outcome.HANDLED
    assert await receiver.nothing_within(1.0)
    await receiver.close()
    assert await event_path.orders_placed(customer_id) == 1
    assert await event_path.broker.dead_letters(10) == []


async def test_run_settles_until_stopped_then_returns(
    event_path: EventPath, customer_id: str
) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(event_path.consumer().run(stop))
    await event_path.broker.publish([_created(customer_id, event_path.settings.events_source)])

    async def tallied() -> bool:
        return await event_path.orders_placed(customer_id) == 1

    await eventually(tallied)
    stop.set()
    async with asyncio.timeout(10):
        await running
