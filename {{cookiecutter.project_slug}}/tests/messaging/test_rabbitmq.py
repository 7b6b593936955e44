"""What only the RabbitMQ adapter does: its queue's arguments, delivery limit and ack timeout."""

import gc
import time

import aio_pika
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed

from {{ cookiecutter.package_name }}.container import open_broker
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.messaging.rabbitmq import RabbitMQBroker, topology
from {{ cookiecutter.package_name }}.settings import Settings
from tests.messaging.receiving import Receiver, make_message
from tests.support.broker import BrokerServer
from tests.support.processes import free_port


def test_the_names_derive_from_the_namespace() -> None:
    names = topology("orders-service")

    assert names.events == "orders-service.orders"
    assert names.consumer == "orders-service.customer-activity"
    assert names.dead_letters == "orders-service.customer-activity.dlq"


async def test_the_consumer_queue_is_a_quorum_queue_with_a_delivery_limit(
    broker: Broker, broker_settings: Settings
) -> None:
    await broker.ping()
    names = topology(broker_settings.events_namespace)
    claimed: dict[str, aio_pika.abc.FieldValue] = {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
        "x-delivery-limit": broker_settings.consumer_max_attempts - 1,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.dead_letters,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }

    connection = await aio_pika.connect(broker_settings.broker_url)
    async with connection:
        # RabbitMQ accepts a redeclaration only with the arguments the queue has.
        channel = await connection.channel()
        await channel.declare_queue(names.consumer, durable=True, arguments=claimed)
        with pytest.raises(ChannelPreconditionFailed):
            await channel.declare_queue(
                names.consumer, durable=True, arguments={**claimed, "x-delivery-limit": 99}
            )


async def test_a_crash_loop_ends_in_the_dead_letters_with_the_reason(
    broker_settings: Settings,
) -> None:
    sent = make_message()
    attempts = broker_settings.consumer_max_attempts
    async with open_broker(broker_settings) as publisher:
        await publisher.publish([sent])
    for attempt in range(1, attempts + 1):
        async with open_broker(broker_settings) as crashing:
            delivery = await Receiver(crashing).next()
            assert (delivery.message.id, delivery.attempt) == (sent.id, attempt)
            # Closed with the message unsettled, as a process that dies handling it.

    async with open_broker(broker_settings) as survivor:
        receiver = Receiver(survivor)
        assert await receiver.nothing_within(1.0)
        [letter] = await survivor.dead_letters(10)
        assert letter.message == sent
        assert "delivery limit" in letter.error
        assert f"{attempts} times" in letter.error
        assert topology(broker_settings.events_namespace).consumer in letter.origin
        assert letter.dead_lettered_at is not None

        assert await survivor.replay_dead_letters(10) == 1
        replayed = await receiver.next()
        assert (replayed.message, replayed.attempt) == (sent, 1)
        await replayed.ack()
        await receiver.close()


async def test_a_dead_letter_records_its_origin_and_time(broker: Broker) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    await (await receiver.next()).dead_letter("KeyError: 'customer'")

    [letter] = await broker.dead_letters(1)
    assert letter.message == sent
    assert letter.error == "KeyError: 'customer'"
    assert "rejected by the consumer" in letter.origin
    assert letter.dead_lettered_at is not None
    assert letter.dead_lettered_at.utcoffset() is not None
    await receiver.close()


async def test_listing_dead_letters_keeps_their_order(broker: Broker) -> None:
    sent = [make_message(f"order-{n}") for n in range(4)]
    await broker.publish(sent)
    receiver = Receiver(broker)
    for delivery in await receiver.take(len(sent)):
        await delivery.dead_letter("boom")

    for _ in range(3):
        listed = await broker.dead_letters(3)
        assert [letter.message.id for letter in listed] == [m.id for m in sent[:3]]
    await receiver.close()


async def test_an_unsettled_delivery_comes_back_after_the_ack_timeout(
    broker: Broker, broker_settings: Settings
) -> None:
    await broker.publish([make_message()])
    receiver = Receiver(broker)
    held = await receiver.next()
    started = time.monotonic()

    again = await receiver.next()

    assert time.monotonic() - started >= broker_settings.consumer_ack_timeout_seconds - 0.1
    assert (again.message, again.attempt) == (held.message, held.attempt + 1)
    await held.ack()  # too late: a no-op, the message is back in the queue
    await again.ack()
    assert await receiver.nothing_within(1.0)
    await receiver.close()


async def test_one_consumer_at_a_time_reads_the_queue(broker_settings: Settings) -> None:
    sent = [make_message("order-a") for _ in range(3)]
    async with open_broker(broker_settings) as first, open_broker(broker_settings) as standby:
        await first.publish(sent)
        active = Receiver(first)
        assert (await active.next()).message.id == sent[0].id
        waiting = Receiver(standby)
        assert await waiting.nothing_within(1.0)

        await active.close()
        taken = await waiting.take(len(sent))
        assert [delivery.message.id for delivery in taken] == [m.id for m in sent]
        for delivery in taken:
            await delivery.ack()
        await waiting.close()


async def test_a_large_batch_is_confirmed_and_arrives_in_order(broker: Broker) -> None:
    sent = [make_message("order-a") for _ in range(300)]
    await broker.publish(sent)

    receiver = Receiver(broker)
    received = []
    for _ in sent:
        delivery = await receiver.next()
        received.append(delivery.message.id)
        await delivery.ack()
    assert received == [m.id for m in sent]
    await receiver.close()


async def test_a_message_no_queue_would_receive_is_refused(
    broker: Broker, broker_settings: Settings
) -> None:
    await broker.ping()
    connection = await aio_pika.connect(broker_settings.broker_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(topology(broker_settings.events_namespace).consumer)

    with pytest.raises(ServiceUnavailableError):
        await broker.publish([make_message()])


@pytest.mark.parametrize(
    "url",
    [
        "http://guest:secret@127.0.0.1:5672/",
        "127.0.0.1:5672",
        "amqp:///vhost",
        "amqp://guest:secret@127.0.0.1:port/",
    ],
)
def test_a_malformed_url_is_refused_without_connecting(url: str, settings: Settings) -> None:
    with pytest.raises(ValueError, match="BROKER_URL must look like amqp://") as refused:
        RabbitMQBroker.from_settings(settings.model_copy(update={"broker_url": url}))
    assert "secret" not in str(refused.value)


async def test_a_connection_that_fails_to_open_is_closed(
    broker_server: BrokerServer, broker_settings: Settings
) -> None:
    port = free_port()
    async with open_broker(broker_server.through(broker_settings, port)) as unreachable:
        with pytest.raises(ServiceUnavailableError):
            await unreachable.ping()
    gc.collect()  # aio-pika's connections are in reference cycles

    left_open = [
        connection
        for connection in gc.get_objects()
        if isinstance(connection, aio_pika.Connection)
        and connection.url.port == port
        and not connection.is_closed
    ]
    assert left_open == []
