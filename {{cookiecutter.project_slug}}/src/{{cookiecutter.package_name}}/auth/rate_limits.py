"""Per-caller quotas with the ``limits`` library: Redis when configured, process memory otherwise.

A sliding-window counter per key: accurate enough to stop bursts at window
edges, and two counters per key whatever the rate. When the store cannot be
reached the call is let through (and logged): losing rate limiting for a
moment is better than refusing every caller because Redis restarted.
"""

import math
import time
from dataclasses import dataclass
from typing import Any, Self

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from {{ cookiecutter.package_name }}.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Quota:
    """A caller's standing in one policy after a call, as the RateLimit headers report it."""

    policy: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int
    allowed: bool


@dataclass(frozen=True, slots=True)
class Policy:
    """A named rate (``"per-caller"``: ``600/minute``)."""

    name: str
    rate: RateLimitItem

    @classmethod
    def parse(cls, name: str, rate: str) -> Self:
        """Read a rate such as ``100/minute`` or ``10/second``."""
        return cls(name, parse(rate))


class RateLimiter:
    """Counts calls per key against the policy for authenticated or anonymous callers."""

    def __init__(
        self,
        storage: Storage,
        per_caller: Policy,
        per_ip: Policy,
        pool: ConnectionPool | None = None,
    ) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._per_caller = per_caller
        self._per_ip = per_ip
        self._pool = pool

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Redis storage when ``RATE_LIMIT_REDIS_URL`` is set, so replicas share counts."""
        per_caller = Policy.parse("per-caller", settings.rate_limit_per_caller)
        per_ip = Policy.parse("per-ip", settings.rate_limit_per_ip)
        if settings.rate_limit_redis_url is None:
            return cls(MemoryStorage(), per_caller, per_ip)
        pool = ConnectionPool.from_url(
            str(settings.rate_limit_redis_url),
            socket_connect_timeout=settings.rate_limit_redis_timeout_seconds,
            socket_timeout=settings.rate_limit_redis_timeout_seconds,
        )
        # Our own pool, so that closing the limiter closes its connections.
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=settings.rate_limit_key_prefix,
            wrap_exceptions=True,
            **options,
        )
        return cls(storage, per_caller, per_ip, pool)

    async def hit(self, key: str, *, authenticated: bool) -> Quota | None:
        """Count one call for ``key`` and report the quota left (``None``: not counted)."""
        policy = self._per_caller if authenticated else self._per_ip
        try:
            allowed = await self._limiter.hit(policy.rate, policy.name, key)
            stats = await self._limiter.get_window_stats(policy.rate, policy.name, key)
        except StorageError as error:
            log.warning("rate_limit_storage_unavailable", error=str(error.storage_error))
            return None
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return Quota(
            policy=policy.name,
            limit=policy.rate.amount,
            window_seconds=policy.rate.get_expiry(),
            remaining=stats.remaining,
            reset_seconds=reset,
            allowed=allowed,
        )

    async def close(self) -> None:
        """Release the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.aclose()
