"""A unit of work whose transaction lost a race runs again, whole, within its policy's bounds."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.application.transactions import Transactions, lost_a_race
from {{ cookiecutter.package_name }}.domain.errors import (
    ConcurrentModificationError,
    ErrorKind,
    ServiceUnavailableError,
    StaleVersionError,
)
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError

POLICY = RetryPolicy(
    attempts=3, wait_initial_seconds=0.001, wait_max_seconds=0.01, timeout_seconds=5
)


class Units:
    """Units of work that are numbered and remember whether they ended."""

    def __init__(self) -> None:
        self.opened = 0
        self.open_now = 0

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[int]:
        self.opened += 1
        self.open_now += 1
        try:
            yield self.opened
        finally:
            self.open_now -= 1


def retries(operation: str) -> float:
    return (
        REGISTRY.get_sample_value("database_transaction_retries_total", {"operation": operation})
        or 0.0
    )


def test_only_a_transaction_conflict_counts_as_a_lost_race() -> None:
    assert lost_a_race(TransactionConflictError())
    assert not lost_a_race(ConcurrentModificationError())
    assert not lost_a_race(ServiceUnavailableError("database"))
    assert not lost_a_race(StaleVersionError(3))
    assert not lost_a_race(ValueError("a bug"))


def test_a_conflict_that_runs_out_is_a_concurrent_modification() -> None:
    error = TransactionConflictError()
    assert isinstance(error, ConcurrentModificationError)
    assert (error.kind, error.code) == (ErrorKind.CONFLICT, "concurrent_modification")


async def test_a_lost_race_runs_the_whole_block_again_in_a_fresh_unit() -> None:
    units = Units()
    seen: list[int] = []

    async def work(unit: int) -> str:
        seen.append(unit)
        if len(seen) < 3:
            raise TransactionConflictError
        return "done"

    before = retries("tests.lost_race")
    result = await Transactions(units.begin, POLICY).run("tests.lost_race", work)

    assert result == "done"
    assert seen == [1, 2, 3]
    assert units.open_now == 0
    assert retries("tests.lost_race") == before + 2


async def test_retries_stop_at_the_bound_with_the_conflict() -> None:
    units = Units()

    async def work(_: int) -> None:
        raise TransactionConflictError

    with pytest.raises(TransactionConflictError):
        await Transactions(units.begin, POLICY).run("tests.bound", work)
    assert units.opened == POLICY.attempts
    assert units.open_now == 0


@pytest.mark.parametrize(
    "error", [ServiceUnavailableError("database"), StaleVersionError(2), ValueError("a bug")]
)
async def test_other_failures_are_not_retried(error: Exception) -> None:
    units = Units()

    async def work(_: int) -> None:
        raise error

    with pytest.raises(type(error)):
        await Transactions(units.begin, POLICY).run("tests.other", work)
    assert units.opened == 1
