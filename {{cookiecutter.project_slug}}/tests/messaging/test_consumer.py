"""The event consumer against the real database and broker: once in effect, whatever arrives."""

import asyncio
from dataclasses import replace

import orjson

from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
from {{ cookiecutter.package_name }}.container import build_container
from {{ cookiecutter.package_name }}.fulfilment.disabled import NoFulfilment
from {{ cookiecutter.package_name }}.messaging.cloudevents import to_message
from {{ cookiecutter.package_name }}.messaging.consumer import EventConsumer, Outcome
from {{ cookiecutter.package_name }}.messaging.port import Message
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


async def test_a_failing_handler_is_retried_then_dead_lettered_and_replays_after_recovery(
    event_path: EventPath, database_server: DatabaseServer, customer_id: str
) -> None:
    settings = event_path.settings
    message = _created(customer_id, settings.events_source)
    await event_path.broker.publish([message])

    async with (
        TcpProxy(*database_server.address(settings)) as proxy,
        build_container(database_server.through(settings, proxy.port)) as cut_off,
    ):
        consumer = EventConsumer(
            event_path.broker,
            CustomerActivityProjector(
                cut_off.events, NoFulfilment(), transaction_retry=cut_off.transaction_retry
            ),
            settings,
        )
        proxy.cut()
        receiver = Receiver(event_path.broker)
        outcomes = [await consumer.settle(await receiver.next()) for _ in range(3)]
        assert outcomes == [Outcome.RETRIED, Outcome.RETRIED, Outcome.DEAD_LETTERED]
        letters = await event_path.broker.dead_letters(10)
        assert [letter.message.id for letter in letters] == [message.id]
        assert "ServiceUnavailableError" in letters[0].error

        proxy.restore()
        assert await event_path.broker.replay_dead_letters(10) == 1
        assert await consumer.settle(await receiver.next()) is Outcome.HANDLED
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
