"""Bounded retries with full jitter, on stamina's retry loop.

stamina runs the loop (attempts, total time, its testing mode); the hook here
decides each wait, so that every retry in the service waits the same way:
full jitter below an exponential ceiling, never less than a delay the failure
itself demands (a ``Retry-After``), and never past the policy's total time. A
retry that would end after that time is not attempted, so the caller gets the
last error at once instead of a wait that cannot succeed.
"""

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import stamina
import structlog

from {{ cookiecutter.package_name }}.resilience.backoff import backoff_seconds

log = structlog.get_logger(__name__)

# What a failure asks for: False, do not retry; True, retry after the usual
# backoff; a number, retry after at least that many seconds.
type RetryVerdict = bool | float
type Classifier = Callable[[Exception], RetryVerdict]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry one kind of operation."""

    attempts: int
    wait_initial_seconds: float
    wait_max_seconds: float
    timeout_seconds: float

    def attempts_for(
        self, classify: Classifier, **context: object
    ) -> AsyncIterator[stamina.Attempt]:
        """The attempts of one operation; ``context`` names it in the retry log lines.

        Use as ``async for attempt in policy.attempts_for(...): with attempt: ...``.
        """
        schedule = _Schedule(self, classify, context)
        return aiter(
            stamina.retry_context(
                on=schedule.wait_after,
                attempts=self.attempts,
                timeout=self.timeout_seconds,
            )
        )


class _Schedule:
    """The waits of one operation's retries (a stamina backoff hook)."""

    def __init__(
        self, policy: RetryPolicy, classify: Classifier, context: dict[str, object]
    ) -> None:
        self._policy = policy
        self._classify = classify
        self._context = context
        self._retries = 0
        self._started = time.monotonic()

    def wait_after(self, error: Exception) -> bool | float:
        verdict = self._classify(error)
        if verdict is False:
            return False
        policy = self._policy
        if self._retries + 1 >= policy.attempts:
            return False
        self._retries += 1
        wait = backoff_seconds(
            self._retries, base=policy.wait_initial_seconds, cap=policy.wait_max_seconds
        )
        if verdict is not True:
            wait = max(wait, float(verdict))
        if time.monotonic() - self._started + wait > policy.timeout_seconds:
            return False
        log.warning(
            "retry_scheduled",
            **self._context,
            retry=self._retries,
            wait_seconds=round(wait, 3),
            error=f"{type(error).__name__}: {error}",
        )
        return wait
