"""The consumer asks the fulfilment system over HTTP: once per event, later when it is down."""

import asyncio

import orjson
from pydantic import HttpUrl

from {{ cookiecutter.package_name }}.container import open_fulfilment
from {{ cookiecutter.package_name }}.fulfilment.http import HttpFulfilment
from {{ cookiecutter.package_name }}.messaging.cloudevents import to_message
from {{ cookiecutter.package_name }}.messaging.consumer import Outcome
from {{ cookiecutter.package_name }}.messaging.port import Message
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from tests.messaging.conftest import EventPath
from tests.messaging.orders import order_created, pending
from tests.messaging.receiving import Receiver
from tests.support.access import ServiceCredentials
from tests.support.downstream import FAILING, FAST, OK, Answer, MisbehavingServer, downstream_client
from tests.support.waiting import eventually

# One attempt per call and a circuit that opens at the second failure, for short tests.
SETTINGS = FAST.model_copy(
    update={"retry_attempts": 1, "breaker_failure_threshold": 2, "breaker_cooldown_seconds": 30}
)
COOLDOWN_SECONDS = 1.0


def _created(customer_id: str, source: str) -> Message:
    return to_message(pending(order_created(customer_id)), source)


async def test_each_event_is_posted_once_with_its_id_as_the_idempotency_key(
    event_path: EventPath, downstream: MisbehavingServer, customer_id: str
) -> None:
    message = _created(customer_id, event_path.settings.events_source)
    await event_path.broker.publish([message])
    client = downstream_client(SETTINGS, name="fulfilment")
    consumer = event_path.consumer(HttpFulfilment(client, f"{downstream.url}/fulfilments"))
    receiver = Receiver(event_path.broker)

    assert await consumer.settle(await receiver.next()) is Outcome.HANDLED

    await receiver.close()
    await client.aclose()
    [request] = downstream.received
    body = orjson.loads(request.body)
    assert (request.method, request.path) == ("POST", "/fulfilments")
    assert request.headers["idempotency-key"] == body["event_id"] == message.id
    assert body["order"]["customer_id"] == customer_id
    assert await event_path.orders_placed(customer_id) == 1


async def test_a_refusal_dead_letters_the_event_at_once_with_the_response(
    event_path: EventPath, downstream: MisbehavingServer, customer_id: str
) -> None:
    message = _created(customer_id, event_path.settings.events_source)
    await event_path.broker.publish([message])
    downstream.answer(then=Answer(400, body=b'{"error": "unknown sku"}'))
    client = downstream_client(SETTINGS, name="fulfilment")
    consumer = event_path.consumer(HttpFulfilment(client, f"{downstream.url}/fulfilments"))
    receiver = Receiver(event_path.broker)

    assert await consumer.settle(await receiver.next()) is Outcome.DEAD_LETTERED

    await receiver.close()
    await client.aclose()
    [letter] = await event_path.broker.dead_letters(10)
    assert letter.message.id == message.id
    assert "HTTP 400" in letter.error
    assert "unknown sku" in letter.error
    assert await event_path.orders_placed(customer_id) == 0


async def test_an_open_circuit_delays_events_without_calling_and_they_go_through_later(
    event_path: EventPath, downstream: MisbehavingServer, customer_id: str
) -> None:
    source = event_path.settings.events_source
    await event_path.broker.publish([_created(customer_id, source) for _ in range(3)])
    downstream.answer(then=FAILING)
    cooling = SETTINGS.model_copy(update={"breaker_cooldown_seconds": COOLDOWN_SECONDS})
    client = downstream_client(cooling, name="fulfilment")
    consumer = event_path.consumer(HttpFulfilment(client, f"{downstream.url}/fulfilments"))
    receiver = Receiver(event_path.broker)

    # The first event is held, not settled: two failures open the circuit, and the
    # consumer waits out the cool-down without calling.
    first = await receiver.next()
    settling = asyncio.create_task(consumer.settle(first))

    async def opened() -> bool:
        return downstream.count() == 2

    await eventually(opened, seconds=10)
    await asyncio.sleep(COOLDOWN_SECONDS / 2)
    assert downstream.count() == 2
    assert not settling.done()

    # Once the downstream answers again, a trial call goes through and the circuit closes.
    downstream.answer(then=OK)
    async with asyncio.timeout(10):
        assert await settling is Outcome.HANDLED
    assert first.attempt == 1
    outcomes = [await consumer.settle(await receiver.next()) for _ in range(2)]
    await receiver.close()
    await client.aclose()

    assert outcomes == [Outcome.HANDLED] * 2
    assert len(downstream.effects) == 3
    assert await event_path.orders_placed(customer_id) == 3
    assert await event_path.broker.dead_letters(10) == []


async def test_the_container_wires_fulfilment_from_the_settings(
    event_path: EventPath,
    downstream: MisbehavingServer,
    service_credentials: ServiceCredentials,
    customer_id: str,
) -> None:
    message = _created(customer_id, event_path.settings.events_source)
    await event_path.broker.publish([message])
    settings = event_path.settings.model_copy(
        update={"fulfilment_url": HttpUrl(f"{downstream.url}/fulfilments")}
    )

    async with open_fulfilment(settings, MemoryBreakerStore()) as fulfilment:
        receiver = Receiver(event_path.broker)
        assert await event_path.consumer(fulfilment).settle(await receiver.next()) is (
            Outcome.HANDLED
        )
        await receiver.close()

    [request] = downstream.received
    assert request.headers["idempotency-key"] == message.id
    assert await service_credentials(request.headers.get("authorization"))
