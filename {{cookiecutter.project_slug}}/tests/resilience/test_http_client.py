"""The downstream client against a real server that fails, hangs, resets and throttles.

Every count comes from the server's own log of the requests it received.
"""

import asyncio
import itertools
import os
import time
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.redis import RedisBreakerStore
from {{ cookiecutter.package_name }}.resilience.errors import (
    BulkheadFullError,
    CircuitOpenError,
    DownstreamUnavailableError,
    UnavailableAnswerError,
)
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.settings import DownstreamSettings
from tests.support.downstream import (
    FAILING,
    FAST,
    HANGING,
    OK,
    RESET,
    Answer,
    MisbehavingServer,
    downstream_client,
)
from tests.support.processes import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def gaps(server: MisbehavingServer) -> list[float]:
    """The time between consecutive requests the server received."""
    times = [request.at for request in server.received]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_failures_are_retried_with_growing_jittered_waits_up_to_the_bound(
    downstream: MisbehavingServer,
) -> None:
    settings = FAST.model_copy(
        update={
            "retry_attempts": 4,
            "retry_wait_initial_seconds": 0.1,
            "retry_wait_max_seconds": 0.4,
        }
    )
    downstream.answer(then=FAILING)
    client = downstream_client(settings, name=f"retries-{uuid4().hex[:8]}")

    with pytest.raises(DownstreamUnavailableError) as raised:
        await client.get(f"{downstream.url}/items/1")

    assert downstream.count() == 4
    assert raised.value.reason == "HTTP 500"
    # Full jitter: each wait is drawn below a ceiling that doubles (0.1, 0.2, 0.4 s).
    for gap, ceiling in zip(gaps(downstream), (0.1, 0.2, 0.4), strict=True):
        assert gap <= ceiling + 0.1
    assert sample("downstream_retries_total", downstream=client.name) == 3
    await client.aclose()


async def test_the_deadline_ends_the_call_whatever_the_retries_left(
    downstream: MisbehavingServer,
) -> None:
    settings = FAST.model_copy(
        update={"retry_attempts": 20, "read_timeout_seconds": 0.4, "deadline_seconds": 2.0}
    )
    downstream.answer(then=HANGING)
    client = downstream_client(settings)
    began = time.monotonic()

    with pytest.raises(DownstreamUnavailableError):
        await client.get(f"{downstream.url}/slow")

    # Twenty attempts would take 8 s at least: the call ended at the deadline, with
    # room for a loaded machine's late wake-ups, after some attempts.
    assert time.monotonic() - began < 2.0 + 1.0
    assert 1 < downstream.count() <= 6
    await client.aclose()


async def test_a_post_is_retried_only_with_an_idempotency_key(
    downstream: MisbehavingServer,
) -> None:
    client = downstream_client()
    downstream.answer(FAILING, then=OK)
    with pytest.raises(DownstreamUnavailableError):
        await client.post(f"{downstream.url}/orders", json={"n": 1})
    assert downstream.count() == 1

    downstream.answer(FAILING, RESET)
    response = await client.post(f"{downstream.url}/orders", json={"n": 1}, idempotency_key="k-1")

    assert response.status_code == 200
    assert downstream.count() == 4
    assert [request.headers["idempotency-key"] for request in downstream.received[1:]] == [
        "k-1"
    ] * 3
    assert downstream.effects == {"k-1": 1}
    await client.aclose()


async def test_answers_other_than_408_425_429_and_5xx_are_returned_not_retried(
    downstream: MisbehavingServer,
) -> None:
    client = downstream_client()
    for status in (400, 404, 409, 422):
        downstream.answer(Answer(status))
        assert (await client.get(f"{downstream.url}/x")).status_code == status
    assert downstream.count() == 4

    downstream.answer(Answer(408), Answer(425), Answer(502))
    assert (await client.get(f"{downstream.url}/x")).status_code == 200
    assert downstream.count() == 4 + 4
    await client.aclose()


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_waited_for(downstream: MisbehavingServer, status: int) -> None:
    client = downstream_client()
    downstream.answer(Answer(status, {"Retry-After": "1"}))

    assert (await client.get(f"{downstream.url}/x")).status_code == 200

    assert downstream.count() == 2
    assert gaps(downstream)[0] >= 1.0
    await client.aclose()


async def test_a_retry_after_beyond_the_cap_ends_the_call_and_carries_the_delay(
    downstream: MisbehavingServer,
) -> None:
    client = downstream_client()  # waits at most 2 s
    downstream.answer(Answer(429, {"Retry-After": "60"}))
    began = time.monotonic()

    with pytest.raises(DownstreamUnavailableError) as raised:
        await client.get(f"{downstream.url}/x")

    assert time.monotonic() - began < 1.0
    assert downstream.count() == 1
    assert raised.value.retry_after_seconds == 60
    await client.aclose()


async def test_the_circuit_opens_fails_fast_half_opens_and_closes(
    downstream: MisbehavingServer,
) -> None:
    name = f"circuit-{uuid4().hex[:8]}"
    settings = FAST.model_copy(
        update={
            "retry_attempts": 1,
            "breaker_failure_threshold": 3,
            "breaker_cooldown_seconds": 0.5,
        }
    )
    client = downstream_client(settings, name=name)
    downstream.answer(then=FAILING)
    for _ in range(3):
        with pytest.raises(DownstreamUnavailableError):
            await client.get(f"{downstream.url}/x")

    with pytest.raises(CircuitOpenError) as refused:
        await client.get(f"{downstream.url}/x")
    assert downstream.count() == 3  # refused without a request
    assert 0 < (refused.value.retry_after_seconds or 0) <= 0.5
    assert sample("circuit_breaker_state", downstream=name) == 2

    await asyncio.sleep(0.5)
    downstream.answer(then=OK)
    assert (await client.get(f"{downstream.url}/x")).status_code == 200
    assert (await client.get(f"{downstream.url}/x")).status_code == 200

    assert downstream.count() == 5
    assert sample("circuit_breaker_state", downstream=name) == 0
    transitions = [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    for before, after in transitions:
        labels = {"downstream": name, "from_state": before, "to_state": after}
        assert sample("circuit_breaker_transitions_total", **labels) == 1
    assert sample("downstream_calls_total", downstream=name, outcome="circuit_open") == 1
    await client.aclose()


async def test_half_open_lets_one_trial_through_and_a_failed_trial_reopens(
    downstream: MisbehavingServer,
) -> None:
    settings = FAST.model_copy(
        update={
            "retry_attempts": 1,
            "breaker_failure_threshold": 1,
            "breaker_cooldown_seconds": 0.3,
        }
    )
    client = downstream_client(settings)
    downstream.answer(FAILING)
    with pytest.raises(DownstreamUnavailableError):
        await client.get(f"{downstream.url}/x")
    await asyncio.sleep(0.3)

    downstream.answer(Answer(500, delay_seconds=0.3))
    trial = asyncio.create_task(client.get(f"{downstream.url}/x"))
    await asyncio.sleep(0.1)
    with pytest.raises(CircuitOpenError):
        await client.get(f"{downstream.url}/x")  # the trial is still out
    with pytest.raises(DownstreamUnavailableError):
        await trial
    with pytest.raises(CircuitOpenError):
        await client.get(f"{downstream.url}/x")  # the failed trial opened it again

    assert downstream.count() == 2
    await client.aclose()


async def test_a_circuit_shared_through_redis_is_open_for_every_client(
    downstream: MisbehavingServer,
) -> None:
    settings = FAST.model_copy(
        update={"retry_attempts": 1, "breaker_failure_threshold": 2, "breaker_cooldown_seconds": 30}
    )
    prefix = f"test-circuit-{uuid4().hex}"
    stores = [
        RedisBreakerStore.from_url(REDIS_URL, key_prefix=prefix, timeout_seconds=1, ttl_seconds=60)
        for _ in range(2)
    ]
    first, second = (downstream_client(settings, name="shared", breakers=store) for store in stores)
    downstream.answer(then=FAILING)
    for _ in range(2):
        with pytest.raises(DownstreamUnavailableError):
            await first.get(f"{downstream.url}/x")

    with pytest.raises(CircuitOpenError) as refused:
        await second.get(f"{downstream.url}/x")

    assert downstream.count() == 2
    assert (refused.value.retry_after_seconds or 0) > 25
    for client, store in zip((first, second), stores, strict=True):
        await client.aclose()
        await store.close()


async def test_the_circuit_lets_calls_through_when_redis_is_unreachable(
    downstream: MisbehavingServer,
) -> None:
    store = RedisBreakerStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", key_prefix="x", timeout_seconds=0.2, ttl_seconds=60
    )
    client = downstream_client(breakers=store)

    assert (await client.get(f"{downstream.url}/x")).status_code == 200
    await client.aclose()
    await store.close()


async def test_the_bulkhead_caps_requests_in_flight(downstream: MisbehavingServer) -> None:
    settings = FAST.model_copy(update={"max_connections": 3, "pool_timeout_seconds": 5.0})
    client = downstream_client(settings)
    downstream.answer(then=Answer(delay_seconds=0.2))

    responses = await asyncio.gather(*(client.get(f"{downstream.url}/x") for _ in range(12)))

    assert [response.status_code for response in responses] == [200] * 12
    assert downstream.peak_in_flight == 3
    await client.aclose()


async def test_a_full_bulkhead_refuses_at_once_instead_of_queueing(
    downstream: MisbehavingServer,
) -> None:
    settings = DownstreamSettings(
        max_connections=2, pool_timeout_seconds=0.1, read_timeout_seconds=5
    )
    client = downstream_client(settings)
    downstream.answer(then=Answer(delay_seconds=1.0))

    results = await asyncio.gather(
        *(client.get(f"{downstream.url}/x") for _ in range(5)), return_exceptions=True
    )

    refused = [result for result in results if isinstance(result, BulkheadFullError)]
    assert len(refused) == 3
    assert downstream.count() == 2
    await client.aclose()


async def test_a_capped_client_reads_at_most_the_cap_and_asks_for_no_compression(
    downstream: MisbehavingServer,
) -> None:
    client = DownstreamClient("capped", FAST, None, max_response_bytes=1024)
    breaker = CircuitBreaker.for_downstream("capped", FAST, MemoryBreakerStore())
    downstream.answer(Answer(200, body=b"x" * 1_000_000), then=Answer(200, body=b"small"))

    big = await client.post(f"{downstream.url}/x", content=b"{}", breaker=breaker)
    small = await client.post(f"{downstream.url}/x", content=b"{}", breaker=breaker)

    assert (big.status_code, big.content) == (200, b"x" * 1024)
    assert small.content == b"small"
    assert downstream.received[0].headers["accept-encoding"] == "identity"
    assert downstream.connections == 2, "the connection of the cut response was dropped"
    await client.aclose()


async def test_each_call_may_name_its_own_circuit_and_a_dead_one_stops_no_other(
    downstream: MisbehavingServer,
) -> None:
    settings = FAST.model_copy(update={"retry_attempts": 1, "breaker_failure_threshold": 2})
    store = MemoryBreakerStore()
    dead = CircuitBreaker.for_downstream(f"dead-{uuid4().hex[:8]}", settings, store)
    alive = CircuitBreaker.for_downstream(f"alive-{uuid4().hex[:8]}", settings, store)
    client = DownstreamClient("shared", settings, None)
    downstream.answer(then=OK)
    for _ in range(2):
        with pytest.raises(DownstreamUnavailableError):
            await client.get(f"http://127.0.0.1:{free_port()}/x", breaker=dead)

    with pytest.raises(CircuitOpenError):
        await client.get(f"{downstream.url}/x", breaker=dead)
    assert (await client.get(f"{downstream.url}/x", breaker=alive)).status_code == 200
    assert downstream.count() == 1
    await client.aclose()


async def test_a_client_without_a_circuit_refuses_a_call_that_names_none() -> None:
    client = DownstreamClient("shared", FAST, None)

    with pytest.raises(TypeError, match="circuit breaker"):
        await client.get("http://127.0.0.1:9/x")
    await client.aclose()


async def test_a_try_later_answer_keeps_its_status_body_and_retry_after(
    downstream: MisbehavingServer,
) -> None:
    client = downstream_client(FAST.model_copy(update={"retry_attempts": 1}))
    downstream.answer(Answer(503, {"Retry-After": "7"}, body=b"maintenance"))

    with pytest.raises(UnavailableAnswerError) as raised:
        await client.post(f"{downstream.url}/x", content=b"{}")

    assert (raised.value.status_code, raised.value.body) == (503, b"maintenance")
    assert raised.value.retry_after_seconds == 7
    assert raised.value.reason == "HTTP 503"
    await client.aclose()
