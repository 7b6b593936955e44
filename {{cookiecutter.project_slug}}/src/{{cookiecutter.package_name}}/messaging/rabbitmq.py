"""RabbitMQ through aio-pika: a topic exchange, a quorum queue and a dead-letter queue.

Events go to the ``<ns>.orders`` topic exchange under their type as routing key,
so other services can bind to the types they want. This service's consumer is
the quorum queue ``<ns>.customer-activity`` (bound to every type), with a
single active consumer so that one process at a time reads it in order, and a
delivery limit that hands a message the consumer keeps crashing on to the
broker's own dead-lettering. Dead letters wait in ``<ns>.customer-activity.dlq``,
a classic queue: returning a message there puts it back where it was, which is
what listing them without consuming relies on.

A retry holds the message for its delay, then returns it with ``basic.reject``
(which, unlike ``basic.nack``, counts towards the delivery limit on RabbitMQ 4.3
too); a delivery left unsettled for the ack timeout is returned the same way.
That timer is this adapter's, so a delivery kept in progress restarts it and
sends nothing. The broker's own limit on an unacked delivery, the channel's
consumer timeout (``consumer_timeout``, 30 minutes by default), still applies:
a message held longer than that (a dependency away for so long) is returned by
the broker as the channel closes, and counted as one delivery.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Self
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
    FieldValue,
)
from aio_pika.connection import make_url
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import (
    DeadLetter,
    Delivery,
    Message,
    Topology,
)
from {{ cookiecutter.package_name }}.settings import Settings

DEPENDENCY = "message broker"
CONTENT_TYPE = "application/cloudevents+json"
# Enough to keep one consumer busy; few enough that a crash returns little.
PREFETCH = 16

KEY_HEADER = "x-ordering-key"
ERROR_HEADER = "x-dead-letter-error"
ORIGIN_HEADER = "x-dead-letter-origin"
TIME_HEADER = "x-dead-lettered-at"
# Ours and the broker's: never part of the message the publisher sent.
_TRANSPORT_HEADERS = frozenset(
    {
        KEY_HEADER,
        ERROR_HEADER,
        ORIGIN_HEADER,
        TIME_HEADER,
        "x-delivery-count",
        "x-acquired-count",
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)
_FAILURES = (AMQPError, ChannelInvalidStateError, ConnectionError, OSError, TimeoutError)


def asyncapi_server() -> dict[str, str]:
    """Where and how the AsyncAPI document says this broker is reached."""
    return {"host": "localhost:5672", "protocol": "amqp"}


def topology(namespace: str) -> Topology:
    """The exchange, queue and dead-letter queue names of ``namespace``."""
    return Topology(
        events=f"{namespace}.orders",
        consumer=f"{namespace}.customer-activity",
        dead_letters=f"{namespace}.customer-activity.dlq",
    )


def consumer_arguments(settings: Settings) -> dict[str, FieldValue]:
    """The consumer queue's arguments; RabbitMQ refuses to redeclare it with others.

    A quorum queue counts every delivery that was returned unsettled (a crash,
    a retry) and dead-letters the message once the count passes the limit, so
    a limit of ``max_attempts - 1`` allows exactly ``max_attempts`` deliveries.
    The at-least-once strategy keeps a message in this queue until the
    dead-letter queue has confirmed it.
    """
    return {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
        "x-delivery-limit": settings.consumer_max_attempts - 1,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": topology(settings.events_namespace).dead_letters,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def _checked_url(url: str) -> str:
    """``url`` if it can name a RabbitMQ server; a message that says how, if not."""
    hint = "BROKER_URL must look like amqp://user:password@host:5672/vhost (or amqps://)"
    try:
        parts = urlsplit(url)
        valid = parts.scheme in {"amqp", "amqps"} and bool(parts.hostname)
        _ = parts.port
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(hint)
    return url


@contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    try:
        yield
    except _FAILURES as exc:
        raise ServiceUnavailableError(DEPENDENCY) from exc


async def _connect(url: str, seconds: float) -> AbstractConnection:
    """A connection opened within ``seconds``; one that fails to open is closed here.

    ``aio_pika.connect`` drops a connection that failed to open without closing
    it, and its ``__del__`` then starts a close on whatever loop the garbage
    collector happens to run beside (or on none, leaving a coroutine never awaited).
    """
    connection = aio_pika.Connection(make_url(url))
    try:
        await connection.connect(timeout=seconds)
    except BaseException:
        await connection.close()
        raise
    return connection


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _outgoing(message: Message, extra_headers: Mapping[str, str] | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        headers={**message.headers, KEY_HEADER: message.key, **(extra_headers or {})},
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.id,
        type=message.type,
    )


def _received(incoming: AbstractIncomingMessage) -> Message:
    headers = incoming.headers
    return Message(
        id=incoming.message_id or "",
        type=incoming.type or "",
        key=_text(headers.get(KEY_HEADER, "")),
        body=incoming.body,
        headers={
            name: _text(value) for name, value in headers.items() if name not in _TRANSPORT_HEADERS
        },
    )


class RabbitMQBroker:
    """The ``Broker`` port on one AMQP connection, opened on first use and after a failure.

    ``broker_connect_timeout_seconds`` bounds every exchange with the broker:
    connecting and declaring, a batch's confirms, a settlement's round trip.
    """

    def __init__(self, settings: Settings) -> None:
        self._url = _checked_url(settings.broker_url)
        self._timeout = settings.broker_connect_timeout_seconds
        self._ack_timeout = settings.consumer_ack_timeout_seconds
        self._max_attempts = settings.consumer_max_attempts
        self._topology = topology(settings.events_namespace)
        self._arguments = consumer_arguments(settings)
        self._lock = asyncio.Lock()
        self._connection: AbstractConnection | None = None
        self._publisher: AbstractChannel | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The adapter for ``settings``; refuses a malformed URL, connects nothing yet."""
        return cls(settings)

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish all at once and wait for every confirm; a returned message fails the batch."""
        if not messages:
            return
        async with self._failing_over():
            exchange = await (await self._channel()).get_exchange(
                self._topology.events, ensure=False
            )
            # Sent in order (the channel serialises frames); confirmed together.
            async with asyncio.timeout(self._timeout):
                results = await asyncio.gather(
                    *(exchange.publish(_outgoing(m), m.type) for m in messages),
                    return_exceptions=True,
                )
            if failures := [result for result in results if isinstance(result, Exception)]:
                raise failures[0]

    def deliveries(self) -> "RabbitMQDeliveries":
        """A consumer of this service's queue, subscribed on first iteration."""
        return RabbitMQDeliveries(self)

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        """Fetch up to ``limit`` without settling, then return them all to their places."""
        async with self._failing_over(), self._dead_letter_queue() as queue:
            held = await _take(queue, limit, self._timeout)
            if held:
                await held[-1].nack(multiple=True, requeue=True)
        return [self._dead_letter(incoming) for incoming in held]

    async def replay_dead_letters(self, limit: int) -> int:
        """Publish the oldest ``limit`` again with confirms, and only then remove them."""
        async with self._failing_over(), self._dead_letter_queue() as queue:
            held = await _take(queue, limit, self._timeout)
            if held:
                await self.publish([_received(incoming) for incoming in held])
                await held[-1].ack(multiple=True)
        return len(held)

    async def ping(self) -> None:
        """A round trip to the broker: the consumer queue still exists."""
        async with self._failing_over(), asyncio.timeout(self._timeout):
            channel = await self._channel()
            await channel.declare_queue(self._topology.consumer, passive=True)

    async def close(self) -> None:
        """Close the connection; the broker returns every unsettled delivery."""
        async with self._lock:
            await self._disconnect()

    async def subscribe(
        self, inbox: "asyncio.Queue[AbstractIncomingMessage | None]"
    ) -> AbstractChannel:
        """A new channel consuming this service's queue into ``inbox``."""
        async with self._failing_over():
            connection, _ = await self._session()
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            queue = await channel.get_queue(self._topology.consumer, ensure=False)
            await queue.consume(inbox.put)
            return channel

    async def park(self, message: Message, error: str) -> None:
        """Put ``message`` in the dead-letter queue with why, from where and when; confirmed."""
        dead = _outgoing(
            message,
            {
                ERROR_HEADER: error,
                ORIGIN_HEADER: f"{self._topology.consumer} (rejected by the consumer)",
                TIME_HEADER: datetime.now(UTC).isoformat(),
            },
        )
        async with self._failing_over(), asyncio.timeout(self._timeout):
            channel = await self._channel()
            await channel.default_exchange.publish(dead, self._topology.dead_letters)

    @property
    def io_timeout(self) -> float:
        """Seconds any one exchange with the broker may take."""
        return self._timeout

    @property
    def ack_timeout(self) -> float:
        """Seconds a delivery may stay unsettled before it is returned to the queue."""
        return self._ack_timeout

    @asynccontextmanager
    async def _failing_over(self) -> AsyncIterator[None]:
        """Report a failure as the broker being unavailable, and reconnect on next use."""
        try:
            yield
        except _FAILURES as exc:
            async with self._lock:
                await self._disconnect()
            raise ServiceUnavailableError(DEPENDENCY) from exc

    async def _channel(self) -> AbstractChannel:
        """The publishing channel: confirms on, and a returned message raises."""
        _, publisher = await self._session()
        return publisher

    async def _session(self) -> tuple[AbstractConnection, AbstractChannel]:
        """The connection and its publishing channel, connecting (and declaring) if needed."""
        async with self._lock:
            if self._connection is None or self._publisher is None or self._publisher.is_closed:
                await self._disconnect()
                connection = await _connect(self._url, self._timeout)
                self._connection = connection
                self._publisher = await connection.channel(on_return_raises=True)
                await self._declare(self._publisher)
            return self._connection, self._publisher

    async def _declare(self, channel: AbstractChannel) -> None:
        """Declare the topology: idempotent while the settings stay the same."""
        names = self._topology
        async with asyncio.timeout(self._timeout):
            events = await channel.declare_exchange(
                names.events, aio_pika.ExchangeType.TOPIC, durable=True
            )
            await channel.declare_queue(names.dead_letters, durable=True)
            queue = await channel.declare_queue(
                names.consumer, durable=True, arguments=self._arguments
            )
            await queue.bind(events, routing_key="#")

    async def _disconnect(self) -> None:
        connection, self._connection, self._publisher = self._connection, None, None
        if connection is not None and not connection.is_closed:
            # Going away anyway: the broker returns the unsettled deliveries.
            with contextlib.suppress(*_FAILURES):
                await asyncio.wait_for(connection.close(), self._timeout)

    @asynccontextmanager
    async def _dead_letter_queue(self) -> AsyncIterator[AbstractQueue]:
        """The dead-letter queue on a channel of its own, closed after use."""
        connection, _ = await self._session()
        channel = await connection.channel()
        try:
            yield await channel.get_queue(self._topology.dead_letters, ensure=False)
        finally:
            if not channel.is_closed:
                await channel.close()

    def _dead_letter(self, incoming: AbstractIncomingMessage) -> DeadLetter:
        headers = incoming.headers
        message = _received(incoming)
        if ERROR_HEADER in headers:
            return DeadLetter(
                message=message,
                error=_text(headers[ERROR_HEADER]),
                origin=_text(headers.get(ORIGIN_HEADER, self._topology.consumer)),
                dead_lettered_at=datetime.fromisoformat(_text(headers[TIME_HEADER])),
            )
        death = _latest_death(headers)
        reason = _text(death.get("reason", "unknown"))
        at = death.get("time")
        return DeadLetter(
            message=message,
            error=self._broker_error(reason),
            origin=f"{_text(death.get('queue', '?'))} (dead-lettered by the broker: {reason})",
            dead_lettered_at=at if isinstance(at, datetime) else None,
        )

    def _broker_error(self, reason: str) -> str:
        if reason == "delivery_limit":
            return (
                f"delivered {self._max_attempts} times and never settled: the consumer "
                "crashed or was cut off on every attempt (the queue's delivery limit)"
            )
        return f"dead-lettered by the broker ({reason})"


def _latest_death(headers: Mapping[str, FieldValue]) -> Mapping[str, FieldValue]:
    """The most recent entry of the broker's ``x-death`` header (empty if none)."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}


async def _take(queue: AbstractQueue, limit: int, wait: float) -> list[AbstractIncomingMessage]:
    """Up to ``limit`` messages from the head of ``queue``, held unsettled, oldest first."""
    held: list[AbstractIncomingMessage] = []
    while len(held) < limit:
        incoming = await queue.get(no_ack=False, fail=False, timeout=wait)
        if incoming is None:
            break
        held.append(incoming)
    return held


class RabbitMQDeliveries:
    """One subscription to the consumer queue; survives a cancelled wait, not a lost channel."""

    def __init__(self, broker: RabbitMQBroker) -> None:
        self._broker = broker
        # None marks the channel's loss, to wake a reader waiting on an empty inbox.
        self._inbox: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._channel: AbstractChannel | None = None
        self._expiries: set[asyncio.Task[None]] = set()
        self._lost = False
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Delivery:
        if self._closed:
            raise StopAsyncIteration
        if self._channel is None and not self._lost:
            self._channel = await self._broker.subscribe(self._inbox)
            self._channel.close_callbacks.add(self._on_channel_closed)
        incoming = None if self._lost else await self._inbox.get()
        if incoming is None:
            raise ServiceUnavailableError(DEPENDENCY)
        return RabbitMQDelivery(incoming, self._broker, self._track)

    async def aclose(self) -> None:
        """Stop consuming; the broker returns what was received but not settled."""
        channel, self._channel, self._closed = self._channel, None, True
        self._stop_expiries()
        if channel is not None and not channel.is_closed:
            channel.close_callbacks.discard(self._on_channel_closed)
            with _unavailable_on_failure():
                await channel.close()

    def _track(self, expiry: "asyncio.Task[None]") -> None:
        """Cancel ``expiry`` with the others when the channel goes away."""
        if self._lost or self._closed:
            expiry.cancel()
            return
        self._expiries.add(expiry)
        expiry.add_done_callback(self._expiries.discard)

    def _on_channel_closed(self, _channel: object, _reason: BaseException | None) -> None:
        """Drop what was received (the broker returns it) and wake a waiting reader."""
        self._lost = True
        self._stop_expiries()
        while not self._inbox.empty():
            self._inbox.get_nowait()
        self._inbox.put_nowait(None)

    def _stop_expiries(self) -> None:
        """With the channel gone, the broker has returned every unsettled delivery itself."""
        for expiry in self._expiries:
            expiry.cancel()


class RabbitMQDelivery:
    """One received message, returned to the queue if not settled within the ack timeout."""

    def __init__(
        self,
        incoming: AbstractIncomingMessage,
        broker: RabbitMQBroker,
        on_renewal: Callable[["asyncio.Task[None]"], None],
    ) -> None:
        self._incoming = incoming
        self._broker = broker
        self._on_renewal = on_renewal
        self.message = _received(incoming)
        # A quorum queue counts the earlier deliveries that came back unsettled.
        count = incoming.headers.get("x-delivery-count")
        self.attempt = 1 + (count if isinstance(count, int) else 0)
        self.expiry = asyncio.create_task(self._return_after(broker.ack_timeout))
        on_renewal(self.expiry)

    async def ack(self) -> None:
        """Forget the message (a no-op once the ack timeout has returned it)."""
        if self._settling():
            await self._settle(self._incoming.ack())

    async def in_progress(self) -> None:
        """Restart the ack timeout; nothing goes to the broker, which counts nothing.

        Raises ``ServiceUnavailableError`` once the channel is gone: the broker has
        taken the message back, so holding it longer is of no use.
        """
        if self._incoming.channel.is_closed:
            raise ServiceUnavailableError(DEPENDENCY)
        if not self._incoming.processed:
            self.expiry.cancel()
            self.expiry = asyncio.create_task(self._return_after(self._broker.ack_timeout))
            self._on_renewal(self.expiry)

    async def retry(self, delay: float) -> None:
        """Hold the message for ``delay`` seconds, then return it (counted as a failed attempt)."""
        if self._settling():
            await asyncio.sleep(delay)
            await self._settle(self._incoming.reject(requeue=True))

    async def dead_letter(self, error: str) -> None:
        """Park a copy in the dead-letter queue with the error, then forget the original."""
        if self._settling():
            await self._broker.park(self.message, error)
            await self._settle(self._incoming.ack())

    async def _settle(self, settlement: Awaitable[None]) -> None:
        """Send ``settlement`` and make sure the broker has it.

        AMQP settlements have no reply, and one still in flight when the
        connection drops is lost; the reply to a later request on the same
        channel proves that the broker has read it.
        """
        with _unavailable_on_failure():
            await settlement
            await self._incoming.channel.basic_qos(
                prefetch_count=PREFETCH, timeout=self._broker.io_timeout
            )

    def _settling(self) -> bool:
        """Stop the ack timeout; whether the message is still ours to settle."""
        self.expiry.cancel()
        return not self._incoming.processed

    async def _return_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        # reject, unlike nack, counts towards the delivery limit on every RabbitMQ version;
        # if the channel is gone the broker has returned the message already.
        with contextlib.suppress(*_FAILURES):
            await self._incoming.reject(requeue=True)


def create_broker(settings: Settings) -> RabbitMQBroker:
    """The broker of this adapter; it connects on first use."""
    return RabbitMQBroker.from_settings(settings)
