"""Circuits kept in the process: each replica judges the downstream on its own calls."""

import time

from {{ cookiecutter.package_name }}.resilience.breaker.port import Change
from {{ cookiecutter.package_name }}.resilience.breaker.state import CircuitRecord


class MemoryBreakerStore:
    """A dict; a change runs without awaiting, so nothing interleaves with it."""

    def __init__(self) -> None:
        self._records: dict[str, CircuitRecord] = {}

    def now(self) -> float:
        """The monotonic clock: immune to the wall clock being set."""
        return time.monotonic()

    async def read(self, name: str) -> CircuitRecord:
        """The circuit's record."""
        return self._records.get(name, CircuitRecord())

    async def change(self, name: str, change: Change) -> tuple[CircuitRecord, CircuitRecord]:
        """Apply ``change``."""
        before = self._records.get(name, CircuitRecord())
        after = change(before)
        self._records[name] = after
        return before, after

    async def close(self) -> None:
        """Nothing to release."""
