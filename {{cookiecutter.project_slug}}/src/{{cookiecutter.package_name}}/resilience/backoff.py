"""Exponential backoff with full jitter, for redeliveries and reconnects.

Full jitter (a uniform draw below the exponential cap) spreads the retries of
many consumers or relays that failed together, so they do not return together.
"""

import random


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """The wait before retry number ``attempt`` (1 for the first retry)."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography
