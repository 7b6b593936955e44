"""The messaging port's contract, held against the real broker of this service.

Every adapter must pass these unchanged; its own test file covers what only
that broker does (its dead-letter mechanics, its redelivery counts).
"""

import asyncio
import time

import pytest

from {{ cookiecutter.package_name }}.container import open_broker
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import Broker, Message
from {{ cookiecutter.package_name }}.settings import Settings
from tests.messaging.receiving import Receiver, make_message
from tests.support.tcp_proxy import TcpProxy


def _same(received: Message, sent: Message) -> None:
    assert (received.id, received.type, received.key, received.body) == (
        sent.id,
        sent.type,
        sent.key,
        sent.body,
    )
    assert received.headers["traceparent"] == sent.headers["traceparent"]


async def test_published_messages_arrive_once_in_order_per_key(broker: Broker) -> None:
    sent = [make_message("order-a") for _ in range(5)] + [make_message("order-b")]
    await broker.publish(sent)

    receiver = Receiver(broker)
    received = await receiver.take(len(sent))
    for delivery in received:
        assert delivery.attempt == 1
        await delivery.ack()

    by_id = {delivery.message.id: delivery.message for delivery in received}
    for message in sent:
        _same(by_id[message.id], message)
    keyed = [delivery.message.id for delivery in received if delivery.message.key == "order-a"]
    assert keyed == [message.id for message in sent if message.key == "order-a"]
    assert await receiver.nothing_within(1.0)
    await receiver.close()


async def test_an_acked_message_is_not_delivered_again(broker: Broker) -> None:
    first, second = make_message(), make_message()
    receiver = Receiver(broker)
    await broker.publish([first])
    await (await receiver.next()).ack()
    await broker.publish([second])

    delivery = await receiver.next()
    assert delivery.message.id == second.id
    await delivery.ack()
    await receiver.close()


async def test_an_unsettled_message_goes_to_the_next_consumer(broker_settings: Settings) -> None:
    sent = make_message()
    async with open_broker(broker_settings) as crashed:
        await crashed.publish([sent])
        receiver = Receiver(crashed)
        delivery = await receiver.next()
        assert delivery.message.id == sent.id
        # Neither acked nor retried: the process "dies" with the message in hand.

    async with open_broker(broker_settings) as successor:
        receiver = Receiver(successor)
        again = await receiver.next()
        assert again.message.id == sent.id
        assert again.attempt >= 1
        await again.ack()
        await receiver.close()


async def test_retry_delivers_again_after_the_delay(broker: Broker) -> None:
    await broker.publish([make_message()])
    receiver = Receiver(broker)
    first = await receiver.next()

    started = time.monotonic()
    await first.retry(0.5)
    again = await receiver.next()

    assert time.monotonic() - started >= 0.5
    assert again.message.id == first.message.id
    assert again.attempt == first.attempt + 1
    await again.ack()
    await receiver.close()


async def test_a_message_in_progress_outlasts_the_ack_timeout_and_counts_no_delivery(
    broker: Broker, broker_settings: Settings
) -> None:
    await broker.publish([make_message()])
    receiver = Receiver(broker)
    first = await receiver.next()

    ack_timeout = broker_settings.consumer_ack_timeout_seconds
    started = time.monotonic()
    while time.monotonic() - started < 1.5 * ack_timeout:
        await first.in_progress()
        assert await receiver.nothing_within(ack_timeout / 3)

    await first.retry(0)
    again = await receiver.next()
    assert again.message.id == first.message.id
    assert again.attempt == first.attempt + 1
    await again.ack()
    assert await receiver.nothing_within(1.0)
    await receiver.close()


async def test_a_dead_letter_keeps_message_and_error_and_replays(broker: Broker) -> None:
    sent = make_message()
    await broker.publish([sent])
    receiver = Receiver(broker)
    await (await receiver.next()).dead_letter("ValueError: no such customer")

    letters = await broker.dead_letters(10)
    assert len(letters) == 1
    _same(letters[0].message, sent)
    assert "no such customer" in letters[0].error
    assert letters[0].origin
    assert len(await broker.dead_letters(10)) == 1, "inspecting must not consume"
    assert await receiver.nothing_within(1.0)

    assert await broker.replay_dead_letters(10) == 1
    replayed = await receiver.next()
    _same(replayed.message, sent)
    await replayed.ack()
    assert await broker.dead_letters(10) == []
    await receiver.close()


async def test_replay_takes_at_most_the_limit_oldest_first(broker: Broker) -> None:
    sent = [make_message(f"order-{n}") for n in range(3)]
    await broker.publish(sent)
    receiver = Receiver(broker)
    for delivery in await receiver.take(3):
        await delivery.dead_letter("boom")

    assert await broker.replay_dead_letters(2) == 2
    replayed = await receiver.take(2)
    for delivery in replayed:
        await delivery.ack()
    remaining = await broker.dead_letters(10)
    assert len(remaining) == 1
    assert {d.message.id for d in replayed} | {remaining[0].message.id} == {m.id for m in sent}
    await receiver.close()


async def test_publish_fails_fast_while_the_broker_is_cut_off_then_recovers(
    proxied_broker: tuple[Settings, TcpProxy], broker: Broker
) -> None:
    settings, proxy = proxied_broker
    async with open_broker(settings) as through_proxy:
        await through_proxy.publish([make_message()])
        proxy.cut()
        async with asyncio.timeout(30):
            with pytest.raises(ServiceUnavailableError):
                await through_proxy.publish([make_message()])
            with pytest.raises(ServiceUnavailableError):
                await through_proxy.ping()

        proxy.restore()
        after = make_message("after-outage")
        async with asyncio.timeout(30):
            while True:
                try:
                    await through_proxy.publish([after])
                    break
                except ServiceUnavailableError:
                    await asyncio.sleep(0.2)
        await through_proxy.ping()

    receiver = Receiver(broker)
    seen: set[str] = set()
    async with asyncio.timeout(30):
        while after.id not in seen:
            delivery = await receiver.next()
            seen.add(delivery.message.id)
            await delivery.ack()
    await receiver.close()


async def test_the_consumer_resumes_after_an_outage(
    proxied_broker: tuple[Settings, TcpProxy], broker: Broker
) -> None:
    settings, proxy = proxied_broker
    async with open_broker(settings) as through_proxy:
        receiver = Receiver(through_proxy)
        before = make_message()
        await broker.publish([before])
        first = await receiver.next_surviving_outages()
        assert first.message.id == before.id
        await first.ack()

        proxy.cut()
        during = make_message()
        await broker.publish([during])
        await asyncio.sleep(1.0)
        proxy.restore()

        delivery = await receiver.next_surviving_outages(seconds=60)
        assert delivery.message.id == during.id
        await delivery.ack()
        await receiver.close()
