"""What only the Redis Streams adapter does: its entries, claims, dead letters and trimming."""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from {{ cookiecutter.package_name }}.container import open_broker
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import Broker, Topology
from {{ cookiecutter.package_name }}.messaging.redis import RedisBroker, topology
from {{ cookiecutter.package_name }}.settings import Settings
from tests.messaging.receiving import Receiver, make_message
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
async def redis(broker_settings: Settings) -> AsyncIterator[Redis]:
    """A plain client on the test's server, to look at the keys the way an operator would."""
    client = Redis.from_url(broker_settings.broker_url)
    yield client
    await client.aclose()


@pytest.fixture
def names(broker_settings: Settings) -> Topology:
    return topology(broker_settings.events_namespace)


@pytest.fixture
def quick_settings(broker_settings: Settings) -> Settings:
    """Unsettled entries are claimed after one second (the least the settings allow)."""
    return broker_settings.model_copy(update={"consumer_ack_timeout_seconds": 1.0})


type _Fields = Mapping[bytes | str, bytes | str]


async def _entries(redis: Redis, stream: str) -> dict[bytes | str, _Fields]:
    """Every entry of ``stream``, by id, oldest first."""
    return {
        entry_id: fields
        for entry_id, fields in await redis.xrange(stream) or []
        if entry_id is not None and fields is not None
    }


async def _ids_in(redis: Redis, stream: str) -> list[str]:
    """The message ids in ``stream``, oldest first."""
    ids = [fields[b"id"] for fields in (await _entries(redis, stream)).values()]
    return [value.decode() if isinstance(value, bytes) else value for value in ids]


def test_the_names_derive_from_the_namespace() -> None:
    assert topology("billing") == Topology(
        events="billing:orders", consumer="customer-activity", dead_letters="billing:orders:dlq"
    )


async def test_an_entry_holds_the_message_as_fields_an_operator_can_read(
    broker: Broker, redis: Redis, names: Topology
) -> None:
    sent = make_message("order-7", body=b"\x00binary\xff")
    await broker.publish([sent])

    [fields] = (await _entries(redis, names.events)).values()
    assert fields == {
        b"id": sent.id.encode(),
        b"type": sent.type.encode(),
        b"key": b"order-7",
        b"body": b"\x00binary\xff",
        b"header:traceparent": sent.headers["traceparent"].encode(),
    }


async def test_the_group_is_declared_on_first_use_from_the_start_of_the_stream(
    broker: Broker, redis: Redis, names: Topology
) -> None:
    await broker.ping()

    [group] = await redis.xinfo_groups(names.events)
    assert group["name"] == names.consumer.encode()
    assert group["last-delivered-id"] == b"0-0"


async def test_a_crash_loop_ends_in_the_dead_letter_stream(
    quick_settings: Settings, redis: Redis, names: Topology
) -> None:
    sent = make_message()
    for attempt in range(1, quick_settings.consumer_max_attempts + 1):
        async with open_broker(quick_settings) as crashing:
            if attempt == 1:
                await crashing.publish([sent])
            delivery = await Receiver(crashing).next()
            assert (delivery.message.id, delivery.attempt) == (sent.id, attempt)
            # The process dies while handling the message, every time.

    async with open_broker(quick_settings) as healthy:
        assert await Receiver(healthy).nothing_within(2.5)
        [letter] = await healthy.dead_letters(10)

    assert letter.message.id == sent.id
    assert f"delivered {quick_settings.consumer_max_attempts + 1} times" in letter.error
    assert (await redis.xpending(names.events, names.consumer))["pending"] == 0


async def test_a_dead_consumers_entries_are_claimed_after_the_ack_timeout_and_counted(
    broker_settings: Settings, redis: Redis, names: Topology
) -> None:
    sent = [make_message(), make_message()]
    async with open_broker(broker_settings) as crashed:
        await crashed.publish(sent)
        await Receiver(crashed).take(2)
        died = time.monotonic()

    async with open_broker(broker_settings) as successor:
        claimed = await Receiver(successor).take(2)
        waited = time.monotonic() - died
        for delivery in claimed:
            await delivery.ack()

    assert waited >= broker_settings.consumer_ack_timeout_seconds - 0.1
    assert [(d.message.id, d.attempt) for d in claimed] == [(m.id, 2) for m in sent]
    [consumer] = await redis.xinfo_consumers(names.events, names.consumer)
    assert consumer["pending"] == 0, "the dead consumer stays listed with nothing left"


async def test_a_dead_letter_records_its_origin_error_and_time(
    broker: Broker, redis: Redis, names: Topology
) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    before = datetime.now(UTC)
    await (await receiver.next()).dead_letter("ValueError: no such customer")

    [letter] = await broker.dead_letters(1)
    stream, _, entry_id = letter.origin.rpartition("/")
    assert stream == names.events
    assert await _ids_in(redis, names.events) == [sent.id]
    assert list(await _entries(redis, names.events)) == [entry_id.encode()]
    assert letter.error == "ValueError: no such customer"
    assert letter.dead_lettered_at is not None
    assert before - timedelta(seconds=1) <= letter.dead_lettered_at <= datetime.now(UTC)
    assert (await redis.xpending(names.events, names.consumer))["pending"] == 0
    await receiver.close()


async def test_replay_moves_dead_letters_back_to_the_stream(
    broker: Broker, redis: Redis, names: Topology
) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    await (await receiver.next()).dead_letter("boom")

    assert await broker.replay_dead_letters(10) == 1

    assert await redis.xlen(names.dead_letters) == 0
    assert await _ids_in(redis, names.events) == [sent.id, sent.id]
    await (await receiver.next()).ack()
    await receiver.close()


async def test_a_retry_longer_than_the_ack_timeout_waits_its_whole_delay(
    quick_settings: Settings,
) -> None:
    async with open_broker(quick_settings) as broker, open_broker(quick_settings) as other:
        await broker.publish([make_message()])
        receiver, other_receiver = Receiver(broker), Receiver(other)
        first = await receiver.next()
        started = time.monotonic()
        await first.retry(2.5)

        quiet = await asyncio.gather(
            receiver.nothing_within(2.0), other_receiver.nothing_within(2.0)
        )
        again = await receiver.next()

        assert all(quiet)
        assert time.monotonic() - started >= 2.5
        assert (again.message.id, again.attempt) == (first.message.id, 2)
        await again.ack()


async def test_settled_history_is_trimmed_and_unsettled_entries_stay(
    quick_settings: Settings, redis: Redis, names: Topology
) -> None:
    sent = [make_message() for _ in range(3)]
    async with open_broker(quick_settings) as broker:
        await broker.publish(sent)
        receiver = Receiver(broker)
        first, second, _unsettled = await receiver.take(3)
        await first.ack()
        await second.ack()

        await asyncio.sleep(quick_settings.consumer_ack_timeout_seconds + 0.2)
        claimed = await receiver.next()
        await claimed.ack()

    assert claimed.message.id == sent[2].id
    assert await _ids_in(redis, names.events) == [sent[2].id]


async def test_entries_another_group_has_not_read_are_kept(
    quick_settings: Settings, redis: Redis, names: Topology
) -> None:
    sent = [make_message() for _ in range(3)]
    async with open_broker(quick_settings) as broker:
        await broker.ping()
        await redis.xgroup_create(names.events, "another-service", id="0")
        await broker.publish(sent)
        receiver = Receiver(broker)
        for delivery in await receiver.take(3):
            await delivery.ack()
        response = await redis.xreadgroup("another-service", "them", {names.events: ">"}, count=2)
        assert isinstance(response, list)
        [[_stream, read]] = response
        await redis.xack(names.events, "another-service", *(entry_id for entry_id, _ in read))

        await asyncio.sleep(quick_settings.consumer_ack_timeout_seconds + 0.2)
        assert await receiver.nothing_within(0.5)

    assert await _ids_in(redis, names.events) == [sent[1].id, sent[2].id]


async def test_closing_leaves_the_group_unless_entries_are_held(
    broker_settings: Settings, redis: Redis, names: Topology
) -> None:
    async with open_broker(broker_settings) as settled:
        await settled.publish([make_message()])
        await (await Receiver(settled).next()).ack()
    assert await redis.xinfo_consumers(names.events, names.consumer) == []

    async with open_broker(broker_settings) as unsettled:
        await unsettled.publish([make_message()])
        await Receiver(unsettled).next()
    [consumer] = await redis.xinfo_consumers(names.events, names.consumer)
    assert consumer["pending"] == 1


async def test_the_group_is_declared_again_after_the_server_lost_it(
    broker: Broker, redis: Redis, names: Topology
) -> None:
    receiver = Receiver(broker)
    await broker.publish([make_message()])
    await (await receiver.next()).ack()

    await redis.delete(names.events)  # as after a restart without persistence
    after = make_message()
    await broker.publish([after])

    delivery = await receiver.next_surviving_outages()
    assert delivery.message.id == after.id
    await delivery.ack()
    await receiver.close()


async def test_opening_connects_nothing_and_the_first_use_connects(
    proxied_broker: tuple[Settings, TcpProxy],
) -> None:
    settings, proxy = proxied_broker
    proxy.cut()
    async with open_broker(settings) as broker:
        with pytest.raises(ServiceUnavailableError):
            await broker.ping()
        proxy.restore()
        await broker.ping()


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "BROKER_URL is not a Redis URL"),
        ("redis://127.0.0.1:port/0", "BROKER_URL is not a Redis URL"),
        ("redis://127.0.0.1:6379/0?protocol=3", "must not set protocol"),
    ],
)
def test_a_malformed_broker_url_is_refused_clearly(
    broker_settings: Settings, url: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        RedisBroker.from_settings(broker_settings.model_copy(update={"broker_url": url}))
