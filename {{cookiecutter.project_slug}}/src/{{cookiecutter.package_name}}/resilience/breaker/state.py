"""The circuit breaker's state machine, as pure functions of a record and the time.

Closed: calls pass; each failure is kept for ``failure_window_seconds``, and
``failure_threshold`` of them within the window open the circuit. Open: calls
are refused until ``cooldown_seconds`` have passed. Half-open: at most
``half_open_calls`` trial calls at a time; one success closes the circuit, one
failure opens it again. A trial whose caller never reports back (its process
died) stops counting after ``trial_timeout_seconds``.

Kept apart from any store, so that the one copy of these rules serves the
in-process store and the Redis store alike, and is tested without either.
"""

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Self


class CircuitState(StrEnum):
    """Where a circuit stands."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a circuit opens, and how it tries again."""

    failure_threshold: int
    failure_window_seconds: float
    cooldown_seconds: float
    half_open_calls: int
    trial_timeout_seconds: float


@dataclass(frozen=True, slots=True)
class CircuitRecord:
    """A circuit's state; times are seconds on the store's clock."""

    state: CircuitState = CircuitState.CLOSED
    failures: tuple[float, ...] = ()
    opened_at: float = 0.0
    trials: tuple[float, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """A JSON object for a shared store."""
        return {
            "state": self.state.value,
            "failures": list(self.failures),
            "opened_at": self.opened_at,
            "trials": list(self.trials),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Read back what :meth:`to_json` wrote."""
        return cls(
            CircuitState(data["state"]),
            tuple(float(at) for at in data["failures"]),
            float(data["opened_at"]),
            tuple(float(at) for at in data["trials"]),
        )


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to a call: let it through (as a trial or not), or refuse it for a while."""

    allowed: bool
    trial: bool = False
    started_at: float = 0.0
    retry_after_seconds: float = 0.0


def admit(
    record: CircuitRecord, policy: BreakerPolicy, now: float
) -> tuple[CircuitRecord, Admission]:
    """Whether a call may go to the downstream now."""
    if record.state is CircuitState.OPEN:
        reopens_at = record.opened_at + policy.cooldown_seconds
        if now < reopens_at:
            return record, Admission(allowed=False, retry_after_seconds=reopens_at - now)
        record = CircuitRecord(CircuitState.HALF_OPEN, opened_at=record.opened_at)
    if record.state is CircuitState.HALF_OPEN:
        trials = tuple(at for at in record.trials if at > now - policy.trial_timeout_seconds)
        if len(trials) >= policy.half_open_calls:
            # Another caller is trying the downstream; ask again once its trial has had time.
            wait = min(trials) + policy.trial_timeout_seconds - now
            return replace(record, trials=trials), Admission(
                allowed=False, retry_after_seconds=wait
            )
        return replace(record, trials=(*trials, now)), Admission(True, trial=True, started_at=now)
    return record, Admission(allowed=True, started_at=now)


def succeeded(record: CircuitRecord, admission: Admission) -> CircuitRecord:
    """A call came back healthy: a trial closes the circuit."""
    if admission.trial and record.state is CircuitState.HALF_OPEN:
        return CircuitRecord()
    return record


def failed(
    record: CircuitRecord, admission: Admission, policy: BreakerPolicy, now: float
) -> CircuitRecord:
    """A call failed: count it while closed, reopen on a failed trial."""
    if record.state is CircuitState.HALF_OPEN:
        if not admission.trial:
            return record
        return CircuitRecord(CircuitState.OPEN, opened_at=now)
    if record.state is CircuitState.OPEN:
        return record  # it was let through before the circuit opened; the circuit knows already
    failures = (*(at for at in record.failures if at > now - policy.failure_window_seconds), now)
    if len(failures) >= policy.failure_threshold:
        return CircuitRecord(CircuitState.OPEN, opened_at=now)
    return replace(record, failures=failures)


def abandoned(record: CircuitRecord, admission: Admission) -> CircuitRecord:
    """A trial ended without an answer (cancelled): give its place back."""
    if not admission.trial or record.state is not CircuitState.HALF_OPEN:
        return record
    trials = list(record.trials)
    if admission.started_at in trials:
        trials.remove(admission.started_at)
    return replace(record, trials=tuple(trials))
