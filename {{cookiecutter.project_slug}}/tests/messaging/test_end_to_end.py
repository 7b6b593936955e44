"""The whole event path as it runs in production: three processes, a database, a broker.

``serve`` takes orders, ``relay`` publishes the outbox, ``consume`` keeps the
customer tally. A broker outage, injected through a proxy between the workers
and the broker, delays events but loses none and duplicates none in effect.
"""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import HttpUrl

from {{ cookiecutter.package_name }}.container import open_broker, open_event_store, open_storage
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.access import PlaceOrders
from tests.support.broker import BrokerServer
from tests.support.downstream import FAILING, FAST, OK, Answer, MisbehavingServer
from tests.support.processes import Process
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually


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


@asynccontextmanager
async def service(
    settings: Settings, broker_settings: Settings, serve_environment: dict[str, str]
) -> AsyncIterator[tuple[Process, ...]]:
    """``serve`` on ``settings``; ``relay`` and ``consume`` on ``broker_settings``."""
    api = Process("serve", settings, **serve_environment)
    relay = Process("relay", broker_settings)
    consume = Process("consume", broker_settings)
    async with stopped_cleanly(api, relay, consume):
        for process in (api, relay, consume):
            await process.wait_for_readiness(200)
        yield api, relay, consume


async def orders_placed(settings: Settings, customer_id: str) -> int:
    """The consumer's tally for ``customer_id``, read from the database."""
    storage = open_storage(settings)
    try:
        activity = await open_event_store(storage).customer_activity.get(customer_id)
    finally:
        await storage.close()
    return 0 if activity is None else activity.orders_placed


async def wait_for_tally(settings: Settings, customer_id: str, expected: int) -> None:
    """Poll the tally until it reaches ``expected``, then check it stays there."""

    async def reached() -> bool:
        return await orders_placed(settings, customer_id) >= expected

    await eventually(reached, seconds=60)
    await asyncio.sleep(1.0)
    assert await orders_placed(settings, customer_id) == expected


async def test_orders_placed_through_the_api_reach_the_consumer_once(
    events_settings: Settings,
    serve_environment: dict[str, str],
    place_orders: PlaceOrders,
    customer_id: str,
) -> None:
    async with service(events_settings, events_settings, serve_environment):
        await place_orders(customer_id, 5)
        await wait_for_tally(events_settings, customer_id, 5)


async def test_a_broker_outage_delays_events_but_loses_none(
    events_settings: Settings,
    broker_server: BrokerServer,
    serve_environment: dict[str, str],
    place_orders: PlaceOrders,
    customer_id: str,
) -> None:
    async with TcpProxy(*broker_server.address(events_settings)) as proxy:
        through_proxy = broker_server.through(events_settings, proxy.port)
        async with service(events_settings, through_proxy, serve_environment) as (
            _,
            relay,
            consume,
        ):
            proxy.cut()
            await relay.wait_for_readiness(503)
            await consume.wait_for_readiness(503)
            await place_orders(customer_id, 5)
            await asyncio.sleep(1.0)
            assert await orders_placed(events_settings, customer_id) == 0

            proxy.restore()
            await relay.wait_for_readiness(200)
            await wait_for_tally(events_settings, customer_id, 5)


async def test_orders_placed_while_fulfilment_fails_reach_it_once_after_it_recovers(
    events_settings: Settings,
    serve_environment: dict[str, str],
    place_orders: PlaceOrders,
    customer_id: str,
    downstream: MisbehavingServer,
) -> None:
    fulfilling = events_settings.model_copy(
        update={
            "fulfilment_url": HttpUrl(f"{downstream.url}/fulfilments"),
            "fulfilment": FAST.model_copy(update={"breaker_failure_threshold": 3}),
        }
    )
    # Enough failures to open the circuit; the events behind them wait out its cool-down.
    downstream.answer(FAILING, FAILING, FAILING, then=OK)
    async with service(events_settings, fulfilling, serve_environment) as (_, _, consume):
        await place_orders(customer_id, 5)
        await wait_for_tally(events_settings, customer_id, 5)
        async with httpx.AsyncClient(timeout=5.0) as http:
            metrics = (await http.get(f"http://127.0.0.1:{consume.http_port}/metrics")).text

    opened = 'circuit_breaker_transitions_total{downstream="fulfilment",from_state="closed",'
    assert f'{opened}to_state="open"}} 1.0' in metrics
    assert downstream.count() >= 3 + 5
    assert len(downstream.effects) == 5
    async with open_broker(events_settings) as broker:
        assert await broker.dead_letters(10) == []


async def test_an_event_fulfilment_refuses_is_dead_lettered_with_the_response(
    events_settings: Settings,
    serve_environment: dict[str, str],
    place_orders: PlaceOrders,
    customer_id: str,
    downstream: MisbehavingServer,
) -> None:
    fulfilling = events_settings.model_copy(
        update={"fulfilment_url": HttpUrl(f"{downstream.url}/fulfilments"), "fulfilment": FAST}
    )
    downstream.answer(then=Answer(400, body=b'{"error": "unknown sku"}'))
    async with (
        service(events_settings, fulfilling, serve_environment),
        open_broker(events_settings) as broker,
    ):
        await place_orders(customer_id, 1)

        async def dead_lettered() -> bool:
            return len(await broker.dead_letters(10)) == 1

        await eventually(dead_lettered, seconds=30)
        [letter] = await broker.dead_letters(10)

    assert "HTTP 400" in letter.error
    assert "unknown sku" in letter.error
    assert downstream.count() == 1  # a refusal is not retried
    assert await orders_placed(events_settings, customer_id) == 0
