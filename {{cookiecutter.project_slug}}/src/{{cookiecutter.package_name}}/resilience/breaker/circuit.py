"""A circuit breaker per downstream: stop calling a system that keeps failing, try again later.

``admit`` lets a call through or raises :class:`CircuitOpenError` at once;
the caller then reports how the call went (``succeeded``, ``failed`` or
``abandoned``). Every change of state is logged once and counted, by the
process that made it.
"""

from typing import Self

import structlog

from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.state import (
    Admission,
    BreakerPolicy,
    CircuitRecord,
    CircuitState,
    abandoned,
    admit,
    failed,
    succeeded,
)
from {{ cookiecutter.package_name }}.resilience.errors import CircuitOpenError
from {{ cookiecutter.package_name }}.resilience.metrics import CIRCUIT_STATE, CIRCUIT_TRANSITIONS
from {{ cookiecutter.package_name }}.settings import DownstreamSettings

log = structlog.get_logger(__name__)

_GAUGE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class CircuitBreaker:
    """The circuit of one downstream, kept in ``store`` under the downstream's name."""

    def __init__(self, name: str, policy: BreakerPolicy, store: BreakerStore) -> None:
        self.name = name
        self._policy = policy
        self._store = store
        CIRCUIT_STATE.labels(name).set(0)

    @classmethod
    def for_downstream(cls, name: str, settings: DownstreamSettings, store: BreakerStore) -> Self:
        """The circuit of downstream ``name``, with its ``breaker_*`` settings.

        A trial call counts for at most the call's deadline: after that its
        caller has given up, whatever happened to it.
        """
        policy = BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold,
            failure_window_seconds=settings.breaker_failure_window_seconds,
            cooldown_seconds=settings.breaker_cooldown_seconds,
            half_open_calls=settings.breaker_half_open_calls,
            trial_timeout_seconds=settings.deadline_seconds,
        )
        return cls(name, policy, store)

    async def state(self) -> CircuitState:
        """The circuit's state now."""
        return (await self._store.read(self.name)).state

    async def admit(self) -> Admission:
        """Let a call through, or raise :class:`CircuitOpenError` with the time left."""
        record = await self._store.read(self.name)
        if record.state is CircuitState.CLOSED:
            self._saw(record.state)
            return Admission(allowed=True, started_at=self._store.now())
        now = self._store.now()
        answers: list[Admission] = []

        def decide(current: CircuitRecord) -> CircuitRecord:
            after, admission = admit(current, self._policy, now)
            answers[:] = [admission]
            return after

        before, after = await self._store.change(self.name, decide)
        self._changed(before, after)
        admission = answers[0] if answers else Admission(allowed=True, started_at=now)
        if admission.trial and now not in after.trials:
            # The store could not record the trial (Redis contended or away): do not send it.
            admission = Admission(allowed=False, retry_after_seconds=self._policy.cooldown_seconds)
        if not admission.allowed:
            raise CircuitOpenError(self.name, retry_after_seconds=admission.retry_after_seconds)
        return admission

    async def succeeded(self, admission: Admission) -> None:
        """The call came back healthy."""
        if admission.trial:
            before, after = await self._store.change(
                self.name, lambda record: succeeded(record, admission)
            )
            self._changed(before, after)

    async def failed(self, admission: Admission) -> None:
        """The call failed in a way that says the downstream is unwell."""
        now = self._store.now()
        before, after = await self._store.change(
            self.name, lambda record: failed(record, admission, self._policy, now)
        )
        self._changed(before, after)

    async def abandoned(self, admission: Admission) -> None:
        """The call ended without an answer either way (it was cancelled)."""
        if admission.trial:
            await self._store.change(self.name, lambda record: abandoned(record, admission))

    def _saw(self, state: CircuitState) -> None:
        CIRCUIT_STATE.labels(self.name).set(_GAUGE_VALUE[state])

    def _changed(self, before: CircuitRecord, after: CircuitRecord) -> None:
        self._saw(after.state)
        if before.state is after.state:
            return
        CIRCUIT_TRANSITIONS.labels(self.name, before.state.value, after.state.value).inc()
        log.warning(
            "circuit_state_changed",
            downstream=self.name,
            from_state=before.state.value,
            to_state=after.state.value,
        )
