"""The wait before each delivery attempt: the schedule, its jitter, and Retry-After."""

import pytest

from {{ cookiecutter.package_name }}.webhooks.delivery import JITTER, retry_delay

SCHEDULE = (0.0, 5.0, 300.0, 1800.0)


def lowest(low: float, _: float) -> float:
    return low


def highest(_: float, high: float) -> float:
    return high


@pytest.mark.parametrize(("attempts", "wait"), [(1, 5.0), (2, 300.0), (3, 1800.0)])
def test_each_wait_is_the_schedules_next_within_the_jitter(attempts: int, wait: float) -> None:
    assert retry_delay(SCHEDULE, attempts, draw=lowest) == pytest.approx(wait * (1 - JITTER))
    assert retry_delay(SCHEDULE, attempts, draw=highest) == pytest.approx(wait * (1 + JITTER))
    assert wait * (1 - JITTER) <= (retry_delay(SCHEDULE, attempts) or 0) <= wait * (1 + JITTER)


def test_the_schedule_spent_means_no_further_attempt() -> None:
    assert retry_delay(SCHEDULE, len(SCHEDULE)) is None
    assert retry_delay(SCHEDULE, len(SCHEDULE) + 3, retry_after=1.0) is None


def test_a_retry_after_longer_than_the_wait_is_waited_for() -> None:
    assert retry_delay(SCHEDULE, 1, retry_after=60.0, draw=highest) == 60.0


def test_a_retry_after_shorter_than_the_wait_changes_nothing() -> None:
    assert retry_delay(SCHEDULE, 2, retry_after=60.0, draw=lowest) == pytest.approx(270.0)


def test_a_retry_after_is_waited_for_up_to_the_longest_wait_of_the_schedule() -> None:
    assert retry_delay(SCHEDULE, 1, retry_after=86_400.0) == 1800.0
