"""What only the Kafka adapter does: its topics, its DLT records, its partitions, its URL."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRecord,
)

from {{ cookiecutter.package_name }}.container import open_broker
from {{ cookiecutter.package_name }}.messaging.kafka import (
    BrokerAddress,
    KafkaBroker,
    liveness,
    topology,
)
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.settings import Settings
from tests.messaging.receiving import Receiver, make_message


@asynccontextmanager
async def raw_consumer(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of no group, to look at the topics as they are."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BrokerAddress.parse(settings.broker_url).servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_all(settings: Settings, topic: str, count: int) -> list[ConsumerRecord]:
    """The first ``count`` records of every partition of ``topic``."""
    async with raw_consumer(settings) as consumer:
        consumer.subscribe([topic])
        records: list[ConsumerRecord] = []
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {len(records)} of {count} records in {topic}"
            for partition_records in batch.values():
                records.extend(partition_records)
        return records


def test_the_topology_derives_from_the_namespace() -> None:
    names = topology("shop")
    assert (names.events, names.consumer, names.dead_letters) == (
        "shop.orders",
        "shop.customer-activity",
        "shop.orders.DLT",
    )


@pytest.mark.parametrize(
    ("url", "servers", "idempotence", "min_session"),
    [
        ("kafka://127.0.0.1:9092", ["127.0.0.1:9092"], True, 6.0),
        ("kafka://a:9092,b:9093", ["a:9092", "b:9093"], True, 6.0),
        ("kafka://a,kafka://b:9093", ["a:9092", "b:9093"], True, 6.0),
        ("kafka://a:9092?idempotence=false", ["a:9092"], False, 6.0),
        ("kafka://a:9092?min_session_ms=1500", ["a:9092"], True, 1.5),
        ("kafka://a:9092?min_session_ms=3000&idempotence=false", ["a:9092"], False, 3.0),
    ],
)
def test_a_broker_url_names_the_bootstrap_servers_and_what_the_cluster_allows(
    url: str, servers: list[str], idempotence: bool, min_session: float
) -> None:
    expected = BrokerAddress(servers, idempotence=idempotence, min_session=min_session)
    assert BrokerAddress.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "amqp://127.0.0.1:5672/",
        "kafka://",
        "kafka://host:port",
        "kafka://a:9092,",
        "kafka://a:9092/path",
        "kafka://a:9092?acks=1",
        "kafka://a:9092?idempotence=maybe",
        "kafka://a:9092?min_session_ms=0",
        "kafka://a:9092?min_session_ms=3s",
        "kafka://a:9092?min_session_ms=60000",
    ],
)
def test_a_malformed_broker_url_is_refused_before_any_connection(
    url: str, settings: Settings
) -> None:
    with pytest.raises(ValueError, match=r"kafka://host:9092"):
        KafkaBroker.from_settings(settings.model_copy(update={"broker_url": url}))


@pytest.mark.parametrize(
    ("ack_timeout", "min_session", "session", "poll_interval"),
    [
        (60.0, 6.0, 45.0, 60.0),  # a session is bounded: the poll interval is not
        (10.0, 6.0, 10.0, 10.0),
        (3.0, 6.0, 6.0, 6.0),  # Kafka's default minimum
        (3.0, 1.0, 3.0, 3.0),  # a cluster that allows shorter sessions
    ],
)
def test_a_member_lives_by_the_ack_timeout_within_the_sessions_the_cluster_allows(
    ack_timeout: float, min_session: float, session: float, poll_interval: float
) -> None:
    timers = liveness(ack_timeout, min_session)
    assert timers["session_timeout_ms"] == session * 1000
    assert timers["max_poll_interval_ms"] == poll_interval * 1000
    assert timers["heartbeat_interval_ms"] < timers["session_timeout_ms"] / 3
    assert timers["request_timeout_ms"] > timers["session_timeout_ms"]


async def test_the_topics_are_created_with_their_partitions(
    broker: Broker, broker_settings: Settings
) -> None:
    await broker.ping()
    await broker.publish([make_message()])
    names = topology(broker_settings.events_namespace)
    async with raw_consumer(broker_settings) as consumer:
        topics = await consumer.topics()
        assert {names.events, names.dead_letters} <= topics
        assert len(consumer.partitions_for_topic(names.events)) > 1
        assert len(consumer.partitions_for_topic(names.dead_letters)) == 1


async def test_a_dlt_record_says_where_the_message_came_from_and_why(
    broker: Broker, broker_settings: Settings
) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    delivery = await receiver.next()
    await delivery.dead_letter("ValueError: no such customer")
    await receiver.close()

    names = topology(broker_settings.events_namespace)
    [original] = await read_all(broker_settings, names.events, 1)
    [letter] = await read_all(broker_settings, names.dead_letters, 1)
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["dlt-original-topic"] == names.events
    assert headers["dlt-original-partition"] == str(original.partition)
    assert headers["dlt-original-offset"] == str(original.offset)
    assert headers["dlt-error"] == "ValueError: no such customer"
    assert headers["traceparent"] == sent.headers["traceparent"]
    assert (letter.key, letter.value) == (original.key, original.value)

    [listed] = await broker.dead_letters(10)
    assert listed.origin == f"{names.events}[{original.partition}]@{original.offset}"
    assert listed.dead_lettered_at is not None


async def test_each_key_keeps_its_order_across_partitions(
    broker: Broker, broker_settings: Settings
) -> None:
    keys = [f"order-{n}" for n in range(12)]
    sent = [make_message(key) for _ in range(5) for key in keys]
    await broker.publish(sent)

    names = topology(broker_settings.events_namespace)
    records = await read_all(broker_settings, names.events, len(sent))
    partitions_of = {record.key.decode(): record.partition for record in records}
    assert len(set(partitions_of.values())) > 1, "the keys should spread over partitions"

    receiver = Receiver(broker)
    received = await receiver.take(len(sent))
    for delivery in received:
        await delivery.ack()
    await receiver.close()
    for key in keys:
        got = [d.message.id for d in received if d.message.key == key]
        assert got == [m.id for m in sent if m.key == key]


async def test_an_ack_commits_nothing_past_an_earlier_unsettled_message(
    broker_settings: Settings,
) -> None:
    first, second = make_message("order-x"), make_message("order-x")
    async with open_broker(broker_settings) as crashed:
        await crashed.publish([first, second])
        receiver = Receiver(crashed)
        held, later = await receiver.take(2)
        assert (held.message.id, later.message.id) == (first.id, second.id)
        await later.ack()  # the process then dies with `held` unsettled

    async with open_broker(broker_settings) as successor:
        receiver = Receiver(successor)
        again = await receiver.next()
        assert again.message.id == first.id
        await again.ack()
        await receiver.close()


async def test_a_record_of_another_producer_is_delivered_for_dead_lettering(
    broker: Broker, broker_settings: Settings
) -> None:
    names = topology(broker_settings.events_namespace)
    await broker.publish([])  # declares the topics
    producer = AIOKafkaProducer(
        bootstrap_servers=BrokerAddress.parse(broker_settings.broker_url).servers
    )
    await producer.start()
    try:
        await producer.send_and_wait(names.events, b"not a cloud event", key=b"k")
    finally:
        await producer.stop()

    receiver = Receiver(broker)
    delivery = await receiver.next()
    assert delivery.message.body == b"not a cloud event"
    assert delivery.message.id
    await delivery.dead_letter("not a CloudEvent")
    await receiver.close()
    assert [letter.message.body for letter in await broker.dead_letters(10)] == [
        b"not a cloud event"
    ]


async def test_a_message_in_progress_keeps_its_member_in_the_group_past_the_poll_interval(
    broker_settings: Settings,
) -> None:
    # The shortest ack timeout: the member's max_poll_interval is then the minimum session.
    settings = broker_settings.model_copy(update={"consumer_ack_timeout_seconds": 1.0})
    min_session = BrokerAddress.parse(settings.broker_url).min_session
    timers = liveness(settings.consumer_ack_timeout_seconds, min_session)
    poll_interval = timers["max_poll_interval_ms"] / 1000
    held, behind = make_message("order-h"), make_message("order-h")
    async with open_broker(settings) as broker:
        await broker.publish([held, behind])
        receiver = Receiver(broker)
        delivery = await receiver.next()
        assert delivery.message.id == held.id
        started = time.monotonic()
        while time.monotonic() - started < poll_interval + 1.5:
            await delivery.in_progress()
            await asyncio.sleep(settings.consumer_ack_timeout_seconds / 3)
        await delivery.ack()  # commits: the member kept its partition
        following = await receiver.next()
        assert (following.message.id, following.attempt) == (behind.id, 1)
        await following.ack()
        await receiver.close()

    async with open_broker(settings) as successor:
        receiver = Receiver(successor)
        assert await receiver.nothing_within(2.0)
        await receiver.close()
