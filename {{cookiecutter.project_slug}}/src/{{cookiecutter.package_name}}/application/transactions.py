"""Units of work that run again, whole, when their transaction loses a race.

A database may undo a transaction that collided with another one (a Postgres
serialization failure or deadlock, a MongoDB transient transaction error);
nothing of it was kept, so the use case runs the same block once more, within
the bounds of a retry policy. When the retries run out the caller sees the
conflict (``concurrent_modification``), never a half-applied write.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from prometheus_client import Counter

from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError

TRANSACTION_RETRIES = Counter(
    "database_transaction_retries",
    "Units of work run again after their transaction lost a race, by operation.",
    ["operation"],
)


def lost_a_race(error: Exception) -> bool:
    """Whether ``error`` undid the unit of work's transaction, so running it again may succeed."""
    return isinstance(error, TransactionConflictError)


class Transactions[UnitT]:
    """Opens units of work of one kind, and runs a block in one until it commits or gives up."""

    def __init__(
        self, begin: Callable[[], AbstractAsyncContextManager[UnitT]], policy: RetryPolicy
    ) -> None:
        self._begin = begin
        self._policy = policy

    async def run[ResultT](
        self, operation: str, work: Callable[[UnitT], Awaitable[ResultT]]
    ) -> ResultT:
        """``work`` in a new unit of work, again in a fresh one after a transaction conflict.

        ``work`` must do all its writes through the unit it is given and keep no
        other effect, so that every attempt starts from what the database holds.
        """
        async for attempt in self._policy.attempts_for(lost_a_race, operation=operation):
            with attempt:
                if attempt.num > 1:
                    TRANSACTION_RETRIES.labels(operation).inc()
                async with self._begin() as unit:
                    result = await work(unit)
        return result
