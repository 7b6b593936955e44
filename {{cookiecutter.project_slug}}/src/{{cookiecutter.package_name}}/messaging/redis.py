"""Redis Streams adapter: one stream, one consumer group, and a dead-letter stream beside it.

Every message is one stream entry, and Redis keeps the delivery count of every
entry a consumer holds (its pending entries), so attempts are the broker's own.
Nothing is redelivered by a timer inside this process: an entry that is retried,
or that a dead consumer left behind, becomes *idle* for the ack timeout, and every
consumer claims idle entries (XAUTOCLAIM) before it reads new ones. A retry makes
its entry look idle for ``ack timeout - delay`` already, so it comes back after
the delay, to whichever consumer looks first, even if this process dies meanwhile.

Keys, under the events namespace ``<ns>``: the stream ``<ns>:orders``, with the
group ``customer-activity`` (created with the stream, from its start, on first
use), and the dead-letter stream ``<ns>:orders:dlq``, whose entries hold the
message's fields, ``error`` and ``origin`` (``<stream>/<entry id>``); the id of a
dead letter is the server's time of dead-lettering.
"""

import asyncio
import contextlib
import heapq
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import DeadLetter, Delivery, Message, Topology
from {{ cookiecutter.package_name }}.settings import Settings

DEPENDENCY = "message broker"
# The longest a consumer blocks on new entries before it looks for idle ones again.
POLL_SECONDS = 1.0
# Redis compares idle times in whole milliseconds; wake up just after a retry is due.
_WAKE_MARGIN_SECONDS = 0.01
_HEADER = "header:"

type _Fields = Mapping[bytes | str, bytes | str]


def asyncapi_server() -> dict[str, str]:
    """Where and how the AsyncAPI document says this broker is reached."""
    return {"host": "localhost:6379", "protocol": "redis"}


def topology(namespace: str) -> Topology:
    """The stream, its consumer group, and the dead-letter stream of ``namespace``."""
    events = f"{namespace}:orders"
    return Topology(events=events, consumer="customer-activity", dead_letters=f"{events}:dlq")


class RedisBroker:
    """The service's events stream and consumer group on one Redis server.

    Create it with :meth:`from_settings`; it connects on first use, and again on
    the next call after a failure.
    """

    def __init__(
        self,
        client: Redis,
        names: Topology,
        *,
        timeout: float,
        ack_timeout: float,
        max_attempts: int,
    ) -> None:
        self._client = client
        self._names = names
        self._timeout = timeout
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid4().hex[:8]}"
        self._ack_timeout = ack_timeout
        self._max_attempts = max_attempts
        self._declared = False
        self._consumed = False
        self._claim_from = "0-0"
        self._trimmed_at = time.monotonic()
        # Retries due later than the ack timeout: entry id -> when (monotonic) it is due.
        self._held: dict[str, float] = {}
        # When retries of this consumer fall due, so that it stops blocking in time.
        self._wake_ups: list[float] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """An adapter for ``settings.broker_url``; raises ``ValueError`` if that is no Redis URL."""
        if {"protocol", "legacy_responses"} & parse_qs(urlsplit(settings.broker_url).query).keys():
            # They change the shape of XREADGROUP's reply, which this adapter reads.
            message = "BROKER_URL must not set protocol or legacy_responses"
            raise ValueError(message)
        timeout = settings.broker_connect_timeout_seconds
        try:
            client = Redis.from_url(
                settings.broker_url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout + POLL_SECONDS,
                # One immediate retry replaces a pooled connection the server dropped
                # while idle; waiting out an outage is the caller's decision.
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as error:
            message = f"BROKER_URL is not a Redis URL: {error}"
            raise ValueError(message) from error
        return cls(
            client,
            topology(settings.events_namespace),
            timeout=timeout,
            ack_timeout=settings.consumer_ack_timeout_seconds,
            max_attempts=settings.consumer_max_attempts,
        )

    async def publish(self, messages: Sequence[Message]) -> None:
        """Add every message to the stream in one MULTI: a failed batch adds none.

        The client sends a batch once more if the connection drops before EXEC's
        reply, so a batch may be added twice: at least once, as the port promises.
        """
        if not messages:
            return
        with self._unavailable():
            await self._declare()
            async with self._client.pipeline(transaction=True) as pipe:
                for message in messages:
                    pipe.xadd(self._names.events, _fields(message))
                await pipe.execute()

    def deliveries(self) -> "_Deliveries":
        """Idle entries claimed from any consumer first, then new ones, one at a time."""
        self._consumed = True
        return _Deliveries(self)

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The oldest ``limit`` entries of the dead-letter stream."""
        with self._unavailable():
            entries = await self._oldest_dead_letters(limit)
        return [_dead_letter(entry_id, fields) for entry_id, fields in entries]

    async def replay_dead_letters(self, limit: int) -> int:
        """Move the oldest ``limit`` dead letters back to the stream, all in one MULTI.

        Two replays at once may both move a letter (it arrives twice); never neither.
        """
        with self._unavailable():
            entries = await self._oldest_dead_letters(limit)
            if not entries:
                return 0
            async with self._client.pipeline(transaction=True) as pipe:
                for entry_id, fields in entries:
                    pipe.xadd(self._names.events, _fields(_message(fields)))
                    pipe.xdel(self._names.dead_letters, entry_id)
                await pipe.execute()
        return len(entries)

    async def ping(self) -> None:
        """Check that Redis answers and the consumer group exists."""
        with self._unavailable():
            await self._declare()
            await self._client.ping()

    async def close(self) -> None:
        """Leave the group if this consumer holds nothing, then close every connection."""
        if self._consumed:
            with contextlib.suppress(RedisError, TimeoutError):
                async with asyncio.timeout(self._timeout):
                    await self._leave_group()
        await self._client.aclose()

    async def _declare(self) -> None:
        """Create the stream and its group (from the start), on first use and after a failure."""
        if self._declared:
            return
        try:
            await self._client.xgroup_create(
                self._names.events, self._names.consumer, id="0", mkstream=True
            )
        except ResponseError as error:
            if not str(error).startswith("BUSYGROUP"):
                raise
        self._declared = True

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Report any Redis failure as the broker being unavailable, and declare again next time.

        Declaring again recreates the group if the server lost it (a restart without
        persistence), which Redis reports as NOGROUP on the next read.
        """
        try:
            yield
        except RedisError as error:
            self._declared = False
            raise ServiceUnavailableError(DEPENDENCY) from error

    async def _next(self) -> "_RedisDelivery | None":
        """One round of the consumer: a claimed idle entry, or a new one, or none in time."""
        with self._unavailable():
            await self._declare()
            await self._hold_late_retries()
            await self._trim_settled()
            return await self._claim_idle() or await self._read_new()

    async def _read_new(self) -> "_RedisDelivery | None":
        response = await self._client.xreadgroup(
            self._names.consumer,
            self._consumer,
            {self._names.events: ">"},
            count=1,
            block=self._block_milliseconds(),
        )
        # [[stream, [(entry id, fields)]]]: redis-py's default shape, which from_settings ensures.
        for _stream, entries in response if isinstance(response, list) else []:
            for entry_id, fields in entries:
                return _RedisDelivery(self, _text(entry_id), _message(fields), attempt=1)
        return None

    async def _claim_idle(self) -> "_RedisDelivery | None":
        """Claim an entry idle for the ack timeout: retried, or left by a dead consumer.

        One delivered more often than the attempts allow was never settled (its
        consumer crashes on it): it goes to the dead letters, and the search goes on.
        """
        while claimed := await self._claim_next_idle():
            entry_id, message = claimed
            attempt = await self._delivery_count(entry_id)
            if attempt > self._max_attempts:
                error = (
                    f"delivered {attempt} times, more than consumer_max_attempts "
                    f"({self._max_attempts}), and never settled: the consumer may crash on it"
                )
                await self._dead_letter(entry_id, message, error)
            elif attempt:
                return _RedisDelivery(self, entry_id, message, attempt)
        return None

    async def _claim_next_idle(self) -> tuple[str, Message] | None:
        """XAUTOCLAIM one entry, paging on through the pending entries until the end.

        Each call looks at no more than ten pending entries, so a long list of
        entries still in hand (or waiting out a retry) takes several calls.
        """
        while True:
            next_start, claimed, *_deleted = await self._client.xautoclaim(
                self._names.events,
                self._names.consumer,
                self._consumer,
                min_idle_time=_milliseconds(self._ack_timeout),
                start_id=self._claim_from,
                count=1,
            )
            self._claim_from = _text(next_start)
            for entry_id, fields in claimed:
                return _text(entry_id), _message(fields)
            if self._claim_from == "0-0":
                return None

    async def _delivery_count(self, entry_id: str) -> int:
        """How often the group delivered the entry, counting this claim; 0 if settled meanwhile."""
        pending = await self._client.xpending_range(
            self._names.events, self._names.consumer, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 0

    def _block_milliseconds(self) -> int:
        now = time.monotonic()
        while self._wake_ups and self._wake_ups[0] <= now:
            heapq.heappop(self._wake_ups)
        # Held retries are kept from looking idle by claiming them anew each round.
        longest = self._ack_timeout / 2 if self._held else POLL_SECONDS
        wait = min([longest, POLL_SECONDS, *(due - now for due in self._wake_ups[:1])])
        return max(1, _milliseconds(wait))

    async def _ack(self, entry_id: str) -> None:
        with self._unavailable():
            await self._client.xack(self._names.events, self._names.consumer, entry_id)

    async def _keep(self, entry_id: str) -> None:
        with self._unavailable():
            await self._set_idle(entry_id, 0.0)

    async def _retry(self, entry_id: str, delay: float) -> None:
        """Make the entry look idle for ``ack timeout - delay``, so it is claimed after ``delay``.

        Redis cannot make an entry look idle for a negative time: a delay longer than
        the ack timeout is held by this consumer until it is shorter.
        """
        delay = max(delay, 0.0)
        due = time.monotonic() + delay
        with self._unavailable():
            await self._set_idle(entry_id, max(self._ack_timeout - delay, 0.0))
        if delay > self._ack_timeout:
            self._held[entry_id] = due
        heapq.heappush(self._wake_ups, due + _WAKE_MARGIN_SECONDS)

    async def _hold_late_retries(self) -> None:
        """Keep held entries from looking idle until their delay fits in the ack timeout."""
        now = time.monotonic()
        for entry_id, due in list(self._held.items()):
            idle = self._ack_timeout - (due - now)
            await self._set_idle(entry_id, max(idle, 0.0))
            if idle >= 0:
                del self._held[entry_id]

    async def _set_idle(self, entry_id: str, idle: float) -> None:
        """XCLAIM JUSTID: take the entry and set its idle time without counting a delivery."""
        await self._client.xclaim(
            self._names.events,
            self._names.consumer,
            self._consumer,
            min_idle_time=0,
            message_ids=[entry_id],
            idle=_milliseconds(idle),
            justid=True,
        )

    async def _dead_letter(self, entry_id: str, message: Message, error: str) -> None:
        """Add the entry to the dead-letter stream and ack it, in one MULTI."""
        fields = _fields(message) | {"error": error, "origin": f"{self._names.events}/{entry_id}"}
        with self._unavailable():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xadd(self._names.dead_letters, fields)
                pipe.xack(self._names.events, self._names.consumer, entry_id)
                await pipe.execute()

    async def _oldest_dead_letters(self, limit: int) -> list[tuple[str, _Fields]]:
        await self._declare()
        if limit < 1:
            return []
        entries = await self._client.xrange(self._names.dead_letters, count=limit)
        return [
            (_text(entry_id), fields)
            for entry_id, fields in entries or []
            if entry_id is not None and fields is not None
        ]

    async def _trim_settled(self) -> None:
        """Once per ack timeout, drop the entries every group of the stream has settled.

        That is everything older than each group's oldest pending entry, or, with none
        pending, than the last entry it read; so another service's group that reads
        this stream keeps whatever it has not read yet. Acks never delete (XDEL),
        for the same reason.
        """
        if time.monotonic() - self._trimmed_at < self._ack_timeout:
            return
        self._trimmed_at = time.monotonic()
        floors = []
        for group in await self._client.xinfo_groups(self._names.events):
            floor = group["last-delivered-id"]
            if group["pending"]:
                floor = (await self._client.xpending(self._names.events, group["name"]))["min"]
            floors.append(_stream_id(_text(floor)))
        if floors:
            oldest = min(floors)
            await self._client.xtrim(
                self._names.events, minid=f"{oldest[0]}-{oldest[1]}", approximate=False
            )

    async def _leave_group(self) -> None:
        """Delete this consumer from the group, unless it holds entries others must claim."""
        held = await self._client.xpending_range(
            self._names.events, self._names.consumer, "-", "+", 1, consumername=self._consumer
        )
        if not held:
            await self._client.xgroup_delconsumer(
                self._names.events, self._names.consumer, self._consumer
            )


class _Deliveries:
    """The consumer's iteration; unlike an async generator, it outlives a cancelled wait."""

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Delivery:
        while not self._closed:
            if (delivery := await self._broker._next()) is not None:
                return delivery
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """End this iteration; the group keeps what is pending for the next claim."""
        self._closed = True


@dataclass(frozen=True, slots=True)
class _RedisDelivery:
    """One stream entry this consumer holds, settled through the broker that read it."""

    broker: RedisBroker
    entry_id: str
    message: Message
    attempt: int

    async def ack(self) -> None:
        """XACK: the group forgets the entry."""
        await self.broker._ack(self.entry_id)

    async def in_progress(self) -> None:
        """Make the entry look fresh (idle 0), counting no delivery: nobody claims it."""
        await self.broker._keep(self.entry_id)

    async def retry(self, delay: float) -> None:
        """Leave the entry pending; it is claimed again after ``delay``, counting one delivery."""
        await self.broker._retry(self.entry_id, delay)

    async def dead_letter(self, error: str) -> None:
        """Move the entry to the dead-letter stream and ack it, atomically."""
        await self.broker._dead_letter(self.entry_id, self.message, error)


def _fields(message: Message) -> dict[FieldT, EncodableT]:
    """The entry of a message: its fields, and one ``header:<name>`` field per header."""
    fields: dict[FieldT, EncodableT] = {
        "id": message.id,
        "type": message.type,
        "key": message.key,
        "body": message.body,
    }
    fields.update({f"{_HEADER}{name}": value for name, value in message.headers.items()})
    return fields


def _message(fields: _Fields) -> Message:
    named = {_text(name): value for name, value in fields.items()}
    return Message(
        id=_text(named["id"]),
        type=_text(named["type"]),
        key=_text(named["key"]),
        body=named["body"] if isinstance(named["body"], bytes) else named["body"].encode(),
        headers={
            name.removeprefix(_HEADER): _text(value)
            for name, value in named.items()
            if name.startswith(_HEADER)
        },
    )


def _dead_letter(entry_id: str, fields: _Fields) -> DeadLetter:
    """A dead-letter entry; its id is the server's time of dead-lettering."""
    named = {_text(name): value for name, value in fields.items()}
    milliseconds, _sequence = _stream_id(entry_id)
    return DeadLetter(
        message=_message(fields),
        error=_text(named["error"]),
        origin=_text(named["origin"]),
        dead_lettered_at=datetime.fromtimestamp(milliseconds / 1000, tz=UTC),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_id(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _milliseconds(seconds: float) -> int:
    return int(seconds * 1000)


def create_broker(settings: Settings) -> RedisBroker:
    """The broker of this adapter; it connects on first use."""
    return RedisBroker.from_settings(settings)
