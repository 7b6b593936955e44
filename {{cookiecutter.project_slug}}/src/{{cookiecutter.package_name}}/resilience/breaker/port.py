"""Where circuits keep their state: in the process, or shared by every replica."""

from collections.abc import Callable
from typing import Protocol

from {{ cookiecutter.package_name }}.resilience.breaker.state import CircuitRecord

type Change = Callable[[CircuitRecord], CircuitRecord]


class BreakerStore(Protocol):
    """Atomic reads and changes of named circuit records."""

    def now(self) -> float:
        """The store's clock, in seconds (shared by every replica that uses the store)."""
        ...

    async def read(self, name: str) -> CircuitRecord:
        """The circuit's record (closed and empty when it has none)."""
        ...

    async def change(self, name: str, change: Change) -> tuple[CircuitRecord, CircuitRecord]:
        """Apply ``change`` atomically; the record before and after."""
        ...

    async def close(self) -> None:
        """Release the store's connections."""
        ...
