"""The client example's circuit breaker, against a real server made to fail, its calls counted."""

import asyncio
import os
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import grpc
import pytest
from grpc import aio
from redis.asyncio import Redis

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.api.grpc.server import RunningServer
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.domain.orders import Order
from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.redis import RedisBreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.state import CircuitState
from {{ cookiecutter.package_name }}.resilience.errors import CircuitOpenError
from {{ cookiecutter.package_name }}.settings import DownstreamSettings
from tests.api.grpc.calls import new_order
from tests.support import access
from tests.support.processes import free_port

# Two failed calls within the window open the circuit; it tries again after half a second.
SHORT = DownstreamSettings(
    breaker_failure_threshold=2,
    breaker_failure_window_seconds=30.0,
    breaker_cooldown_seconds=0.5,
    breaker_half_open_calls=1,
    deadline_seconds=5.0,
)
# Long enough for the cool-down to be over (asyncio may wake a clock tick early).
COOLED_DOWN = SHORT.breaker_cooldown_seconds + 0.05
# The channel's retry policy: each call the client makes reaches the server this many times.
ATTEMPTS_PER_CALL = 4


class Outage:
    """The server's order reads, counted, and failing as a lost database does while ``down``."""

    def __init__(self, server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.down = False
        self.slow = False
        self.stalled = asyncio.Event()
        self._get = server.container.orders.get
        monkeypatch.setattr(server.container.orders, "get", self.get)

    async def get(self, order_id: UUID) -> Order:
        self.calls += 1
        if self.slow:
            self.stalled.set()
            await asyncio.sleep(30)
        if self.down:
            raise ServiceUnavailableError("database")
        return await self._get(order_id)


@pytest.fixture
def outage(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Outage:
    return Outage(server, monkeypatch)


def breaker_on(store: BreakerStore) -> CircuitBreaker:
    return CircuitBreaker.for_downstream("orders", SHORT, store)


@pytest.fixture
def breaker() -> CircuitBreaker:
    return breaker_on(MemoryBreakerStore())


@pytest.fixture
async def guarded(
    server: RunningServer, breaker: CircuitBreaker, credentials: Credentials | None
) -> AsyncIterator[OrdersClient]:
    """The client example with ``breaker`` on its channel."""
    async with open_channel(f"127.0.0.1:{server.port}", breaker=breaker) as channel:
        yield OrdersClient(channel, metadata=access.metadata(credentials))


async def fails_with(client: OrdersClient, order_id: str, code: grpc.StatusCode) -> None:
    with pytest.raises(aio.AioRpcError) as caught:
        await client.get_order(order_id)
    assert caught.value.code() == code


async def test_failures_open_the_circuit_and_a_healthy_trial_closes_it(
    guarded: OrdersClient, breaker: CircuitBreaker, outage: Outage, customer_id: str
) -> None:
    placed = await guarded.create_order(new_order(customer_id))
    outage.down = True

    await fails_with(guarded, placed.id, grpc.StatusCode.UNAVAILABLE)
    # The channel retried, and the breaker judged the call once, after the retries.
    assert outage.calls == ATTEMPTS_PER_CALL
    assert await breaker.state() is CircuitState.CLOSED
    await fails_with(guarded, placed.id, grpc.StatusCode.UNAVAILABLE)
    assert await breaker.state() is CircuitState.OPEN

    with pytest.raises(CircuitOpenError) as refused:
        await guarded.get_order(placed.id)
    assert outage.calls == 2 * ATTEMPTS_PER_CALL  # refused without a call
    assert 0 < (refused.value.retry_after_seconds or 0) <= SHORT.breaker_cooldown_seconds

    outage.down = False
    await asyncio.sleep(COOLED_DOWN)
    assert (await guarded.get_order(placed.id)).id == placed.id
    assert outage.calls == 2 * ATTEMPTS_PER_CALL + 1
    assert await breaker.state() is CircuitState.CLOSED


async def test_a_failed_trial_opens_the_circuit_again(
    guarded: OrdersClient, breaker: CircuitBreaker, outage: Outage
) -> None:
    outage.down = True
    for _ in range(SHORT.breaker_failure_threshold):
        await fails_with(guarded, str(uuid4()), grpc.StatusCode.UNAVAILABLE)
    await asyncio.sleep(COOLED_DOWN)

    await fails_with(guarded, str(uuid4()), grpc.StatusCode.UNAVAILABLE)

    assert await breaker.state() is CircuitState.OPEN
    calls = outage.calls
    with pytest.raises(CircuitOpenError):
        await guarded.get_order(str(uuid4()))
    assert outage.calls == calls


async def test_answers_of_a_healthy_server_are_not_failures(
    guarded: OrdersClient, breaker: CircuitBreaker, outage: Outage
) -> None:
    for _ in range(2 * SHORT.breaker_failure_threshold):
        await fails_with(guarded, str(uuid4()), grpc.StatusCode.NOT_FOUND)

    assert outage.calls == 2 * SHORT.breaker_failure_threshold
    assert await breaker.state() is CircuitState.CLOSED


async def test_an_unreachable_server_opens_the_circuit(
    breaker: CircuitBreaker, credentials: Credentials | None
) -> None:
    async with open_channel(f"127.0.0.1:{free_port()}", breaker=breaker) as channel:
        client = OrdersClient(channel, timeout=5.0, metadata=access.metadata(credentials))
        for _ in range(SHORT.breaker_failure_threshold):
            await fails_with(client, str(uuid4()), grpc.StatusCode.UNAVAILABLE)

        with pytest.raises(CircuitOpenError):
            await client.get_order(str(uuid4()))


async def test_a_cancelled_trial_gives_its_place_back(
    guarded: OrdersClient, breaker: CircuitBreaker, outage: Outage
) -> None:
    outage.down = True
    for _ in range(SHORT.breaker_failure_threshold):
        await fails_with(guarded, str(uuid4()), grpc.StatusCode.UNAVAILABLE)
    await asyncio.sleep(COOLED_DOWN)
    outage.slow = True

    trial = asyncio.create_task(guarded.get_order(str(uuid4())))
    await asyncio.wait_for(outage.stalled.wait(), timeout=5)  # the trial is on the server
    with pytest.raises(CircuitOpenError):  # one trial at a time
        await guarded.get_order(str(uuid4()))
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    outage.down = outage.slow = False
    await fails_with(guarded, str(uuid4()), grpc.StatusCode.NOT_FOUND)  # the next trial
    assert await breaker.state() is CircuitState.CLOSED


@pytest.fixture
async def shared_stores() -> AsyncIterator[tuple[BreakerStore, BreakerStore]]:
    """Two replicas' stores on the test Redis, under a key prefix of this test alone."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid4().hex}"
    stores = [
        RedisBreakerStore.from_url(url, key_prefix=prefix, timeout_seconds=2.0, ttl_seconds=60)
        for _ in range(2)
    ]
    try:
        yield stores[0], stores[1]
    finally:
        for store in stores:
            await store.close()
        redis = Redis.from_url(url)
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_replicas_share_the_circuit_through_redis(
    server: RunningServer,
    outage: Outage,
    shared_stores: tuple[BreakerStore, BreakerStore],
    credentials: Credentials | None,
) -> None:
    target, metadata = f"127.0.0.1:{server.port}", access.metadata(credentials)
    one, another = (breaker_on(store) for store in shared_stores)
    outage.down = True
    async with (
        open_channel(target, breaker=one) as one_channel,
        open_channel(target, breaker=another) as another_channel,
    ):
        failing = OrdersClient(one_channel, metadata=metadata)
        for _ in range(SHORT.breaker_failure_threshold):
            await fails_with(failing, str(uuid4()), grpc.StatusCode.UNAVAILABLE)
        calls = outage.calls

        with pytest.raises(CircuitOpenError) as refused:
            await OrdersClient(another_channel, metadata=metadata).get_order(str(uuid4()))

    assert outage.calls == calls
    assert 0 < (refused.value.retry_after_seconds or 0) <= SHORT.breaker_cooldown_seconds
    assert await another.state() is CircuitState.OPEN
