"""The service clock: one source of "now", so that tests can replace it."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current moment, always timezone-aware UTC."""
    return datetime.now(UTC)
