"""The whole event path as it runs in production: three processes, a database, a broker.

``serve`` takes orders, ``relay`` publishes the outbox, ``consume`` keeps the
customer tally and asks a fulfilment downstream. A broker outage, injected
through a proxy between the workers and the broker, delays events but loses
none and duplicates none in effect.

One set of processes serves the whole module, since each start costs seconds of
CPU: every test places orders for a customer of its own, counts only what
happened during it, and leaves the proxy and the downstream as it found them.
Tests that kill a process start their own (``test_relay``, ``test_commands``).
"""

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import HttpUrl

from {{ cookiecutter.package_name }}.container import open_broker, open_event_store, open_storage
from {{ cookiecutter.package_name }}.messaging.cloudevents import from_message
from {{ cookiecutter.package_name }}.messaging.port import Broker, DeadLetter
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.events import EventStore
from tests.support.access import PlaceOrders
from tests.support.broker import BrokerServer, isolated_event_path
from tests.support.database import DatabaseServer
from tests.support.downstream import FAILING, FAST, OK, Answer, MisbehavingServer
from tests.support.processes import Process
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

# Enough failures in a row to open the consumer's circuit to the fulfilment downstream.
BREAKER_THRESHOLD = 3
OPENINGS = {"downstream": "fulfilment", "from_state": "closed", "to_state": "open"}


@dataclass(frozen=True)
class Service:
    """The running processes, the faults the tests inject around them, and what they did."""

    settings: Settings
    api: Process
    relay: Process
    consume: Process
    broker_link: TcpProxy
    fulfilment: MisbehavingServer
    events: EventStore
    broker: Broker

    async def orders_placed(self, customer_id: str) -> int:
        """The consumer's tally for ``customer_id``, read from the database."""
        activity = await self.events.customer_activity.get(customer_id)
        return 0 if activity is None else activity.orders_placed

    async def wait_for_tally(self, customer_id: str, expected: int) -> None:
        """Poll the tally until it reaches ``expected``, then check it stays there."""

        async def reached() -> bool:
            return await self.orders_placed(customer_id) >= expected

        await eventually(reached, seconds=60)
        await asyncio.sleep(1.0)
        assert await self.orders_placed(customer_id) == expected

    async def dead_letters_of(self, customer_id: str) -> list[DeadLetter]:
        """The dead letters about ``customer_id``'s orders."""
        return [
            letter
            for letter in await self.broker.dead_letters(100)
            if (event := from_message(letter.message)) is not None
            and event.data.get("customer_id") == customer_id
        ]


@asynccontextmanager
async def stopped_cleanly(*processes: Process) -> AsyncIterator[None]:
    """Stop every process on exit and check each one shut down without a crash."""
    try:
        yield
    finally:
        stopped = await asyncio.gather(*(process.stop() for process in processes))
        outputs = {
            process.command: (output, process.popen.returncode)
            for process, output in zip(processes, stopped, strict=True)
        }
    for command, (output, code) in outputs.items():
        # uvicorn re-raises the signal once it has drained, so its exit reports SIGTERM.
        assert code in {0, -signal.SIGTERM}, f"{command} exited {code}:\n{output}"
        assert "Traceback" not in output, f"{command}:\n{output}"


@pytest.fixture(scope="module")
async def fulfilment() -> AsyncIterator[MisbehavingServer]:
    """The consumer's fulfilment downstream, answering 200 unless a test scripts otherwise."""
    server = MisbehavingServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def events_settings(
    database_server: DatabaseServer, broker_server: BrokerServer, auth_settings: dict[str, Any]
) -> AsyncIterator[Settings]:
    """A migrated database and a broker namespace of this module's processes."""
    async with isolated_event_path(database_server, broker_server, auth_settings) as settings:
        yield settings


@pytest.fixture(scope="module")
async def service(
    events_settings: Settings,
    broker_server: BrokerServer,
    fulfilment: MisbehavingServer,
    serve_environment: dict[str, str],
) -> AsyncIterator[Service]:
    """``serve``, ``relay`` and ``consume`` on this module's database and namespace.

    The workers reach the broker through a proxy, and the consumer's circuit opens
    after a few failures in a row.
    """
    settings = events_settings
    async with TcpProxy(*broker_server.address(settings)) as broker_link:
        workers = broker_server.through(settings, broker_link.port).model_copy(
            update={
                "fulfilment_url": HttpUrl(f"{fulfilment.url}/fulfilments"),
                "fulfilment": FAST.model_copy(
                    update={"breaker_failure_threshold": BREAKER_THRESHOLD}
                ),
            }
        )
        api = Process("serve", settings, **serve_environment)
        relay = Process("relay", workers)
        consume = Process("consume", workers)
        storage = open_storage(settings)
        try:
            async with open_broker(settings) as broker, stopped_cleanly(api, relay, consume):
                for process in (api, relay, consume):
                    await process.wait_for_readiness(200)
                events = open_event_store(storage)
                yield Service(
                    settings, api, relay, consume, broker_link, fulfilment, events, broker
                )
        finally:
            await storage.close()


@pytest.fixture(autouse=True)
def as_found(service: Service) -> Iterator[None]:
    """Whatever a test did (or failed halfway through), the next finds the link up and 200s."""
    yield
    service.broker_link.restore()
    service.fulfilment.answer(then=OK)


async def circuit_openings(consume: Process) -> float:
    """How many times the consumer's circuit to the fulfilment downstream has opened."""
    response = await consume.get("/metrics")
    assert response is not None, "the consumer's probe port does not answer"
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "circuit_breaker_transitions_total" and sample.labels == OPENINGS:
                return sample.value
    return 0.0


async def test_orders_placed_through_the_api_reach_the_consumer_once(
    service: Service, place_orders: PlaceOrders, customer_id: str
) -> None:
    await place_orders(customer_id, 5)
    await service.wait_for_tally(customer_id, 5)


async def test_a_broker_outage_delays_events_but_loses_none(
    service: Service, place_orders: PlaceOrders, customer_id: str
) -> None:
    service.broker_link.cut()
    await service.relay.wait_for_readiness(503)
    await service.consume.wait_for_readiness(503)
    await place_orders(customer_id, 5)
    await asyncio.sleep(1.0)
    assert await service.orders_placed(customer_id) == 0

    service.broker_link.restore()
    await service.relay.wait_for_readiness(200)
    await service.wait_for_tally(customer_id, 5)


async def test_orders_placed_while_fulfilment_fails_reach_it_once_after_it_recovers(
    service: Service, place_orders: PlaceOrders, customer_id: str
) -> None:
    calls, effects = service.fulfilment.count(), len(service.fulfilment.effects)
    openings = await circuit_openings(service.consume)
    # Enough failures to open the circuit; the events behind them wait out its cool-down.
    service.fulfilment.answer(*[FAILING] * BREAKER_THRESHOLD, then=OK)

    await place_orders(customer_id, 5)
    await service.wait_for_tally(customer_id, 5)

    assert await circuit_openings(service.consume) == openings + 1
    assert service.fulfilment.count() - calls >= BREAKER_THRESHOLD + 5
    assert len(service.fulfilment.effects) - effects == 5
    assert await service.dead_letters_of(customer_id) == []


async def test_an_event_fulfilment_refuses_is_dead_lettered_with_the_response(
    service: Service, place_orders: PlaceOrders, customer_id: str
) -> None:
    calls = service.fulfilment.count()
    service.fulfilment.answer(then=Answer(400, body=b'{"error": "unknown sku"}'))

    await place_orders(customer_id, 1)

    async def dead_lettered() -> bool:
        return len(await service.dead_letters_of(customer_id)) == 1

    await eventually(dead_lettered, seconds=30)
    [letter] = await service.dead_letters_of(customer_id)
    assert "HTTP 400" in letter.error
    assert "unknown sku" in letter.error
    assert service.fulfilment.count() - calls == 1  # a refusal is not retried
    assert await service.orders_placed(customer_id) == 0
