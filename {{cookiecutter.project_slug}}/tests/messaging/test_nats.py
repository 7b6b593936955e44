"""What only the JetStream adapter does, checked against the real NATS server.

The raw client below reads the streams and consumer as an operator would, to
see what the adapter stored; it never stands in for the broker.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.js import JetStreamContext

from {{ cookiecutter.package_name }}.container import open_broker
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.nats import NatsBroker, Streams, servers, topology
from {{ cookiecutter.package_name }}.messaging.port import Broker, DeadLetter, Message
from {{ cookiecutter.package_name }}.settings import Settings
from tests.messaging.receiving import Receiver, make_message


@asynccontextmanager
async def jetstream(settings: Settings) -> AsyncIterator[JetStreamContext]:
    """A plain JetStream client on the server of ``settings``."""
    client = await nats.connect(servers=servers(settings.broker_url), allow_reconnect=False)
    try:
        yield client.jetstream()
    finally:
        await client.close()


async def dead_letters_within(broker: Broker, seconds: float) -> list[DeadLetter]:
    """The dead letters as soon as there are any (or none after ``seconds``)."""
    for _ in range(int(seconds / 0.5)):
        if letters := await broker.dead_letters(10):
            return letters
        await asyncio.sleep(0.5)
    return []


def same(received: Message, sent: Message) -> None:
    assert received == sent


async def test_one_id_published_twice_is_stored_once_under_its_type(
    broker: Broker, broker_settings: Settings
) -> None:
    sent = make_message()
    await broker.publish([sent])
    await broker.publish([sent])  # the relay's retry after a lost confirmation

    streams = Streams.of(broker_settings.events_namespace)
    async with jetstream(broker_settings) as js:
        assert (await js.stream_info(streams.events)).state.messages == 1
        stored = await js.get_msg(streams.events, 1)
    assert stored.subject == f"{topology(broker_settings.events_namespace).events}.{sent.type}"

    receiver = Receiver(broker)
    delivery = await receiver.next()
    same(delivery.message, sent)
    await delivery.ack()
    assert await receiver.nothing_within(1.0)
    await receiver.close()


async def test_keys_publish_concurrently_yet_each_key_keeps_its_order(broker: Broker) -> None:
    sent = [make_message(f"order-{n % 5}") for n in range(60)]
    await broker.publish(sent)

    receiver = Receiver(broker)
    received: list[Message] = []
    for _ in sent:
        delivery = await receiver.next()
        received.append(delivery.message)
        await delivery.ack()
    for key in {message.key for message in sent}:
        assert [m.id for m in received if m.key == key] == [m.id for m in sent if m.key == key]
    await receiver.close()


async def test_a_deleted_stream_is_declared_again_on_the_next_call(
    broker: Broker, broker_settings: Settings
) -> None:
    await broker.ping()
    async with jetstream(broker_settings) as js:
        await js.delete_stream(Streams.of(broker_settings.events_namespace).events)

    with pytest.raises(ServiceUnavailableError):
        await broker.publish([make_message()])  # nothing stores the subject now
    sent = make_message()
    await broker.publish([sent])

    receiver = Receiver(broker)
    delivery = await receiver.next()
    same(delivery.message, sent)
    await delivery.ack()
    await receiver.close()


async def test_a_crash_loop_ends_in_the_dead_letters(
    broker: Broker, broker_settings: Settings
) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    for attempt in range(1, broker_settings.consumer_max_attempts + 1):
        delivery = await receiver.next()
        assert delivery.attempt == attempt
        # Never settled: the worker dies with it, and JetStream delivers it again.

    # JetStream gives up after max_deliver and announces it while a pull waits.
    assert await receiver.nothing_within(broker_settings.consumer_ack_timeout_seconds + 1)
    (letter,) = await dead_letters_within(broker, 20)
    same(letter.message, sent)
    assert "max_deliver" in letter.error
    assert Streams.of(broker_settings.events_namespace).events in letter.origin

    assert await broker.replay_dead_letters(10) == 1
    replayed = await receiver.next()
    same(replayed.message, sent)
    assert replayed.attempt == 1
    await replayed.ack()
    await receiver.close()


async def test_a_dead_letter_records_its_origin_error_and_time(
    broker: Broker, broker_settings: Settings
) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    error = "ValueError: no such customer\n  in line two"
    await (await receiver.next()).dead_letter(error)
    await receiver.close()

    (letter,) = await broker.dead_letters(10)
    assert letter.error == error
    assert letter.dead_lettered_at is not None
    assert datetime.now(UTC) - letter.dead_lettered_at < timedelta(seconds=30)

    streams = Streams.of(broker_settings.events_namespace)
    async with jetstream(broker_settings) as js:
        stored = await js.get_msg(streams.dead_letters, 1)
    headers = stored.headers or {}
    assert headers["Dead-Letter-Stream"] == streams.events
    assert headers["Dead-Letter-Sequence"] == "1"
    assert headers["Dead-Letter-Subject"].endswith(f".orders.{sent.type}")
    assert json.loads(headers["Dead-Letter-Error"]) == error
    assert headers["traceparent"] == sent.headers["traceparent"]


async def test_dead_lettering_again_after_a_lost_term_keeps_one_letter(broker: Broker) -> None:
    await broker.publish([make_message()])
    receiver = Receiver(broker)
    delivery = await receiver.next()
    await delivery.dead_letter("first")
    await delivery.dead_letter("second")  # as if the term had been lost and it came back

    assert len(await broker.dead_letters(10)) == 1
    await receiver.close()


async def test_connecting_again_updates_the_consumer_to_the_settings(
    broker_settings: Settings,
) -> None:
    async with open_broker(broker_settings) as broker:
        await broker.ping()
    changed = broker_settings.model_copy(
        update={"consumer_ack_timeout_seconds": 7.0, "consumer_max_attempts": 4}
    )
    async with open_broker(changed) as broker:
        await broker.ping()

    names = topology(broker_settings.events_namespace)
    async with jetstream(broker_settings) as js:
        info = await js.consumer_info(
            Streams.of(broker_settings.events_namespace).events, names.consumer
        )
    assert (info.config.ack_wait, info.config.max_deliver) == (7.0, 4)


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:secret@127.0.0.1:5672/",
        "nats://user:secret@:4222",
        "nats://127.0.0.1:notaport",
        "127.0.0.1:4222",
    ],
)
def test_a_malformed_broker_url_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(ValueError, match="BROKER_URL must be nats://host:port") as refused:
        NatsBroker.from_settings(Settings(broker_url=url))
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("header", ["Nats-Msg-Id", "Event-Id", "Dead-Letter-Error"])
async def test_headers_the_adapter_owns_are_refused(broker: Broker, header: str) -> None:
    message = make_message()
    clashing = Message(message.id, message.type, message.key, message.body, {header: "x"})
    with pytest.raises(ValueError, match="reserved"):
        await broker.publish([clashing])
