"""How every retry in the service waits: full jitter below a doubling ceiling, within bounds."""

import time

import pytest

from {{ cookiecutter.package_name }}.resilience.backoff import backoff_seconds
from {{ cookiecutter.package_name }}.resilience.retries import Classifier, RetryPolicy


def policy(attempts: int, wait: float, timeout: float = 5.0) -> RetryPolicy:
    return RetryPolicy(
        attempts=attempts, wait_initial_seconds=wait, wait_max_seconds=wait, timeout_seconds=timeout
    )


async def failing(policy: RetryPolicy, classify: Classifier, tries: list[float]) -> None:
    """Run an operation that always fails under ``policy``, noting when each try began."""
    async for attempt in policy.attempts_for(classify, operation="test"):
        with attempt:
            tries.append(time.monotonic())
            raise ConnectionError


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)])
def test_waits_are_spread_below_a_doubling_capped_ceiling(attempt: int, ceiling: float) -> None:
    waits = [backoff_seconds(attempt, base=0.1, cap=0.5) for _ in range(2000)]

    assert all(0 <= wait <= ceiling for wait in waits)
    # Full jitter: the draws cover the whole range, not a band near the ceiling.
    assert min(waits) < ceiling / 10
    assert max(waits) > ceiling * 0.9


async def test_attempts_stop_at_the_bound() -> None:
    tries: list[float] = []

    with pytest.raises(ConnectionError):
        await failing(policy(3, 0.01), lambda _: True, tries)

    assert len(tries) == 3


async def test_a_wait_that_would_end_after_the_timeout_is_not_taken() -> None:
    tries: list[float] = []
    began = time.monotonic()

    with pytest.raises(ConnectionError):
        await failing(policy(10, 1.0, timeout=0.5), lambda _: 2.0, tries)

    assert len(tries) == 1
    assert time.monotonic() - began < 0.5


async def test_a_failure_the_classifier_refuses_is_not_retried() -> None:
    tries: list[float] = []

    with pytest.raises(ConnectionError):
        await failing(policy(5, 0.01), lambda _: False, tries)

    assert len(tries) == 1


async def test_a_demanded_wait_is_a_floor_for_the_jittered_one() -> None:
    tries: list[float] = []

    with pytest.raises(ConnectionError):
        await failing(policy(2, 0.01), lambda _: 0.3, tries)

    assert tries[1] - tries[0] >= 0.3
