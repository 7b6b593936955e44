"""Circuits shared through Redis: when one replica opens a circuit, every replica sees it open.

A record is one JSON value per circuit, changed by compare-and-set: read it,
apply the rules here, and write the result only if the value is still the one
read (a four-line script), again if another replica changed it meanwhile. So
the rules stay in one place (``state.py``) instead of a second copy in Lua.
Records expire when unused, and times are on the wall clock, the only clock
replicas share.

When Redis cannot be reached the circuit is treated as closed (and logged):
losing the breaker for a moment is better than refusing every call because
Redis restarted.
"""

import time
from typing import Self

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from {{ cookiecutter.package_name }}.resilience.breaker.port import Change
from {{ cookiecutter.package_name }}.resilience.breaker.state import CircuitRecord

log = structlog.get_logger(__name__)

_CHANGE_TRIES = 10
# KEYS[1] the record; ARGV: the value read ("" when there was none), the new value, its TTL.
_COMPARE_AND_SET = """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


class RedisBreakerStore:
    """Circuit records under ``<prefix>:<name>``."""

    def __init__(self, redis: Redis, *, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._ttl = ttl_seconds
        self._compare_and_set = redis.register_script(_COMPARE_AND_SET)

    @classmethod
    def from_url(
        cls, url: str, *, key_prefix: str, timeout_seconds: float, ttl_seconds: int
    ) -> Self:
        """A store with its own connection pool and short socket timeouts."""
        redis = Redis.from_url(
            url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
        )
        return cls(redis, key_prefix=key_prefix, ttl_seconds=ttl_seconds)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    def now(self) -> float:
        """The wall clock, which replicas share."""
        return time.time()

    async def read(self, name: str) -> CircuitRecord:
        """The circuit's record; closed when Redis cannot be reached."""
        try:
            raw = await self._redis.get(self._key(name))
        except RedisError as error:
            log.warning("circuit_store_unavailable", circuit=name, error=str(error))
            return CircuitRecord()
        return _parse(raw)

    async def change(self, name: str, change: Change) -> tuple[CircuitRecord, CircuitRecord]:
        """Apply ``change`` by compare-and-set; no change when Redis is away."""
        key = self._key(name)
        try:
            for _ in range(_CHANGE_TRIES):
                raw = await self._redis.get(key)
                before = _parse(raw)
                after = change(before)
                if after == before:
                    return before, after
                written = await self._compare_and_set(
                    keys=[key], args=[raw or b"", orjson.dumps(after.to_json()), self._ttl]
                )
                if written:
                    return before, after
        except RedisError as error:
            log.warning("circuit_store_unavailable", circuit=name, error=str(error))
            return CircuitRecord(), CircuitRecord()
        log.warning("circuit_store_contended", circuit=name, tries=_CHANGE_TRIES)
        record = await self.read(name)
        return record, record

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def _parse(raw: bytes | str | None) -> CircuitRecord:
    if raw is None:
        return CircuitRecord()
    try:
        return CircuitRecord.from_json(orjson.loads(raw))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return CircuitRecord()  # written by another version: start afresh rather than fail calls
