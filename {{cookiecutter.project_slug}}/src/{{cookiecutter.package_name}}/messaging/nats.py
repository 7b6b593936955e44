"""The NATS JetStream adapter of the messaging port.

Events go to ``<namespace>.orders.<type>``, kept by one stream; the service
reads them through the durable pull consumer ``customer-activity`` (explicit
acks, ``ack_wait`` and ``max_deliver`` from the settings). Dead letters are
copies in a stream of their own, so they outlive the events stream's age limit
and can be listed without consuming them. JetStream itself announces a message
that ran out of deliveries unsettled (a consumer that crashes on it) with an
advisory; a third stream keeps those advisories, and the adapter turns each into
a dead letter, so a crash loop is never lost silently.
"""

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self
from urllib.parse import urlsplit

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import DeadLetter, Delivery, Message, Topology
from {{ cookiecutter.package_name }}.settings import Settings

log = structlog.get_logger(__name__)

# Events stay readable this long: the dead-letter rescue copies them by sequence.
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600.0
# A message published again within this window (same id) is stored once.
DUPLICATE_WINDOW_SECONDS = 120.0
# How long one pull request waits on the server for a message.
POLL_SECONDS = 5.0
# The longest error text a dead letter keeps.
MAX_ERROR_CHARS = 2000

_SCHEMES = frozenset({"nats", "tls", "ws", "wss"})
_STREAM_NAME_IN_USE = 10058
_DEDUPLICATION = "Nats-Msg-Id"
_ID, _TYPE, _KEY = "Event-Id", "Event-Type", "Event-Key"
_ORIGIN_STREAM = "Dead-Letter-Stream"
_ORIGIN_SEQUENCE = "Dead-Letter-Sequence"
_ORIGIN_SUBJECT = "Dead-Letter-Subject"
_ERROR = "Dead-Letter-Error"
_DEAD_AT = "Dead-Letter-Time"
_RESERVED_PREFIXES = ("Nats-", "Dead-Letter-")
_FORBIDDEN_IN_TOKEN = frozenset(" \t\r\n*>")


def asyncapi_server() -> dict[str, str]:
    """Where and how the AsyncAPI document says this broker is reached."""
    return {"host": "localhost:4222", "protocol": "nats"}


def topology(namespace: str) -> Topology:
    """The subject prefixes and consumer of ``namespace``: what publishers and the AsyncAPI name."""
    return Topology(
        events=f"{namespace}.orders",
        consumer="customer-activity",
        dead_letters=f"{namespace}.dlq.orders",
    )


@dataclass(frozen=True, slots=True)
class Streams:
    """The JetStream streams behind a namespace.

    Stream names cannot hold dots; a namespace never holds an underscore, so
    no two namespaces' names can collide.
    """

    events: str
    dead_letters: str
    exhausted: str

    @classmethod
    def of(cls, namespace: str) -> Self:
        """The streams of ``namespace``."""
        base = f"{namespace}_orders"
        return cls(events=base, dead_letters=f"{base}_dlq", exhausted=f"{base}_exhausted")

    def all(self) -> tuple[str, ...]:
        """Every stream name, for tools that remove a namespace."""
        return (self.events, self.dead_letters, self.exhausted)


def servers(broker_url: str) -> list[str]:
    """The server URLs in ``broker_url`` (comma-separated for a cluster), checked without I/O."""
    urls = [url.strip() for url in broker_url.split(",")]
    for url in urls:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in _SCHEMES or not parts.hostname or port == -1:
            shown = url.rpartition("@")[2]  # never echo credentials
            message = (
                "BROKER_URL must be nats://host:port (or tls://, ws://, wss://), "
                f"comma-separated for a cluster; got {shown!r}"
            )
            raise ValueError(message)
    return urls


@dataclass(frozen=True, slots=True)
class _Link:
    """One live connection and its JetStream context."""

    client: Client
    js: JetStreamContext


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a dead letter was read from."""

    stream: str
    sequence: int
    subject: str

    def describe(self) -> str:
        return f"{self.subject} (stream {self.stream}, sequence {self.sequence})"


def _subject(prefix: str, event_type: str) -> str:
    tokens = event_type.split(".")
    if not all(tokens) or _FORBIDDEN_IN_TOKEN & set(event_type):
        message = f"event type {event_type!r} cannot be a NATS subject suffix"
        raise ValueError(message)
    return f"{prefix}.{event_type}"


def _is_reserved(name: str) -> bool:
    return name in {_ID, _TYPE, _KEY} or name.startswith(_RESERVED_PREFIXES)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A message as JetStream takes it: attributes in headers, the id for de-duplication."""

    subject: str
    body: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, prefix: str, message: Message) -> Self:
        for name, value in message.headers.items():
            if _is_reserved(name) or "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} is reserved or holds a line break")
        headers = {
            **message.headers,
            _ID: message.id,
            _TYPE: message.type,
            _KEY: message.key,
            _DEDUPLICATION: message.id,
        }
        return cls(_subject(prefix, message.type), message.body, headers)


def _carried(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers that travel with a message wherever it is copied."""
    return {
        name: value for name, value in headers.items() if not name.startswith(_RESERVED_PREFIXES)
    }


def _message_of(headers: Mapping[str, str], body: bytes) -> Message:
    own = {name: value for name, value in headers.items() if not _is_reserved(name)}
    return Message(
        id=headers.get(_ID, ""),
        type=headers.get(_TYPE, ""),
        key=headers.get(_KEY, ""),
        body=body,
        headers=own,
    )


def _dead_letter_of(msg: Msg) -> DeadLetter:
    headers = msg.headers or {}
    origin = _Origin(
        stream=headers.get(_ORIGIN_STREAM, ""),
        sequence=int(headers.get(_ORIGIN_SEQUENCE, "0")),
        subject=headers.get(_ORIGIN_SUBJECT, ""),
    )
    dead_at = headers.get(_DEAD_AT)
    return DeadLetter(
        message=_message_of(headers, msg.data),
        error=json.loads(headers.get(_ERROR, '""')),
        origin=origin.describe(),
        dead_lettered_at=datetime.fromisoformat(dead_at) if dead_at else None,
    )


class NatsBroker:
    """The service's streams and consumer on a NATS server with JetStream.

    Create it with :meth:`from_settings`; it connects on first use, declares
    its streams and consumer, and after any failure drops the connection so
    the next call connects (and declares) afresh.
    """

    def __init__(
        self,
        servers: list[str],
        namespace: str,
        *,
        name: str,
        timeout: float,
        ack_wait: float,
        max_deliver: int,
    ) -> None:
        self._servers = servers
        self._names = topology(namespace)
        self._streams = Streams.of(namespace)
        self._name = name
        self._timeout = timeout
        self._ack_wait = ack_wait
        self._max_deliver = max_deliver
        self._link: _Link | None = None
        self._connecting = asyncio.Lock()
        self._rescued_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The broker of ``settings``; checks the URL, connects nothing."""
        return cls(
            servers(settings.broker_url),
            settings.events_namespace,
            name=settings.service_name,
            timeout=settings.broker_connect_timeout_seconds,
            ack_wait=settings.consumer_ack_timeout_seconds,
            max_deliver=settings.consumer_max_attempts,
        )

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish every message and wait for JetStream to store each.

        Messages of one key go one after another (the next only once the
        previous is stored), so a failure can never let a later one overtake
        it; different keys go concurrently.
        """
        chains: dict[str, list[_Outgoing]] = {}
        for message in messages:  # all checked before any is sent
            chains.setdefault(message.key, []).append(_Outgoing.of(self._names.events, message))
        async with self._session() as link:
            results = await asyncio.gather(
                *(self._publish_in_order(link, chain) for chain in chains.values()),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    def deliveries(self) -> "NatsDeliveries":
        """Messages of the durable consumer, one per pull request."""
        return NatsDeliveries(self)

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first, read without consuming them."""
        async with self._session() as link:
            await self._rescue_exhausted(link)
            letters = await self._read(link, self._streams.dead_letters, limit)
        return [_dead_letter_of(msg) for msg in letters]

    async def replay_dead_letters(self, limit: int) -> int:
        """Publish up to ``limit`` dead letters to their subjects again, oldest first.

        Each is deleted from the dead-letter stream only once JetStream has
        stored it again (at least once). The replay carries its own
        de-duplication id, since the original id may still be in the window.
        """
        async with self._session() as link:
            await self._rescue_exhausted(link)
            letters = await self._read(link, self._streams.dead_letters, limit)
            for msg in letters:
                await self._replay(link, msg)
        return len(letters)

    async def ping(self) -> None:
        """Raise ``ServiceUnavailableError`` unless JetStream answers."""
        async with self._session() as link:
            await link.js.account_info()

    async def close(self) -> None:
        """Close the connection; the next call would open another."""
        async with self._connecting:
            link, self._link = self._link, None
        if link is not None:
            await link.client.close()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[_Link]:
        """The live connection; a broker failure inside drops it and becomes unavailability.

        A rejected declaration (a stream that cannot take this configuration)
        is an operator's problem, not an outage, and is raised as it is.
        """
        link = None
        try:
            link = await self._connection()
            yield link
        except BadRequestError:
            raise
        except (NatsError, OSError, TimeoutError) as error:
            if link is not None:
                await self._forget(link)
            raise ServiceUnavailableError("message broker") from error

    async def _settle(self, reply: str, verdict: bytes) -> None:
        """Send an ack, nak, term or progress for a delivery; wait until JetStream confirms it.

        It goes over the current connection, so a delivery received before a
        reconnect can still be settled within its ack wait.
        """
        async with self._session() as link:
            await link.client.request(reply, verdict, timeout=self._timeout)

    async def _bury(
        self, origin: _Origin, headers: Mapping[str, str], body: bytes, error: str
    ) -> None:
        """Copy a message into the dead-letter stream; confirmed, de-duplicated by origin."""
        async with self._session() as link:
            await self._store_dead_letter(link, origin, headers, body, error)

    async def _rescue_exhausted(self, link: _Link) -> None:
        """Turn each max-deliveries advisory into a dead letter, then forget the advisory.

        The advisory stream keeps them while nobody runs this, so a crash loop
        that ended while every worker was down is found on the next call.
        """
        self._rescued_at = time.monotonic()
        for advisory in await self._read(link, self._streams.exhausted, 100):
            await self._rescue(link, advisory)
            with suppress(NotFoundError):
                await link.js.delete_msg(self._streams.exhausted, advisory.metadata.sequence.stream)

    async def _rescue_when_due(self, link: _Link) -> None:
        """Rescue exhausted messages at most once per poll interval."""
        if time.monotonic() - self._rescued_at >= POLL_SECONDS:
            await self._rescue_exhausted(link)

    async def _subscribe(self, link: _Link) -> JetStreamContext.PullSubscription:
        """A pull subscription on this service's durable consumer."""
        return await link.js.pull_subscribe_bind(
            consumer=self._names.consumer, stream=self._streams.events
        )

    async def _connection(self) -> _Link:
        async with self._connecting:
            if self._link is None or self._link.client.is_closed:
                self._link = await self._connect()
            return self._link

    async def _connect(self) -> _Link:
        """Connect once to a server of the pool, and declare; the client never reconnects itself.

        Reconnecting is this adapter's job (on the next call), so that a caller
        always hears of an outage instead of waiting on a client that retries.
        """
        client = Client()
        try:
            async with asyncio.timeout(self._timeout):
                await client.connect(
                    servers=self._servers,
                    name=self._name,
                    connect_timeout=math.ceil(self._timeout),  # bounded above anyway
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    error_cb=_log_error,
                )
            link = _Link(client, client.jetstream(timeout=self._timeout))
            await self._declare(link.js)
        except BaseException:
            await client.close()  # a failed connect leaves its socket open otherwise
            raise
        return link

    async def _forget(self, link: _Link) -> None:
        async with self._connecting:
            if self._link is link:
                self._link = None
        with suppress(NatsError, OSError):
            await link.client.close()

    async def _declare(self, js: JetStreamContext) -> None:
        """Create or update the streams and the consumer: the same call whatever exists."""
        for config in self._stream_configs():
            try:
                await js.add_stream(config)
            except BadRequestError as error:
                if error.err_code != _STREAM_NAME_IN_USE:
                    raise
                await js.update_stream(config)
        await js.add_consumer(
            self._streams.events,
            ConsumerConfig(
                name=self._names.consumer,
                durable_name=self._names.consumer,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self._ack_wait,
                max_deliver=self._max_deliver,
            ),
        )

    def _stream_configs(self) -> list[StreamConfig]:
        advisory = (
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
            f"{self._streams.events}.{self._names.consumer}"
        )
        return [
            StreamConfig(
                name=self._streams.events,
                subjects=[f"{self._names.events}.>"],
                storage=StorageType.FILE,
                max_age=EVENTS_MAX_AGE_SECONDS,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            ),
            StreamConfig(
                name=self._streams.dead_letters,
                subjects=[f"{self._names.dead_letters}.>"],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            ),
            StreamConfig(
                name=self._streams.exhausted,
                subjects=[advisory],
                storage=StorageType.FILE,
                max_age=EVENTS_MAX_AGE_SECONDS,
            ),
        ]

    async def _publish_in_order(self, link: _Link, chain: list[_Outgoing]) -> None:
        for outgoing in chain:
            await link.js.publish(
                outgoing.subject, outgoing.body, timeout=self._timeout, headers=outgoing.headers
            )

    async def _replay(self, link: _Link, letter: Msg) -> None:
        headers = _carried(letter.headers or {})
        sequence = letter.metadata.sequence.stream
        headers[_DEDUPLICATION] = f"{headers.get(_ID, '')}:replay:{sequence}"
        subject = (letter.headers or {})[_ORIGIN_SUBJECT]
        await link.js.publish(subject, letter.data, timeout=self._timeout, headers=headers)
        with suppress(NotFoundError):
            await link.js.delete_msg(self._streams.dead_letters, sequence)

    async def _store_dead_letter(
        self, link: _Link, origin: _Origin, headers: Mapping[str, str], body: bytes, error: str
    ) -> None:
        dead_headers = {
            **_carried(headers),
            _DEDUPLICATION: f"{origin.stream}:{origin.sequence}",
            _ORIGIN_STREAM: origin.stream,
            _ORIGIN_SEQUENCE: str(origin.sequence),
            _ORIGIN_SUBJECT: origin.subject,
            _ERROR: json.dumps(error[:MAX_ERROR_CHARS]),  # ASCII, one line
            _DEAD_AT: datetime.now(UTC).isoformat(),
        }
        subject = f"{self._names.dead_letters}.{self._names.consumer}"
        await link.js.publish(subject, body, timeout=self._timeout, headers=dead_headers)

    async def _rescue(self, link: _Link, advisory: Msg) -> None:
        event = json.loads(advisory.data)
        sequence = int(event["stream_seq"])
        try:
            original = await link.js.get_msg(self._streams.events, sequence)
        except NotFoundError:
            log.warning("exhausted message aged out before rescue", sequence=sequence)
            return
        error = f"delivered {event['deliveries']} times without being settled (max_deliver)"
        origin = _Origin(self._streams.events, sequence, original.subject or "")
        await self._store_dead_letter(
            link, origin, original.headers or {}, original.data or b"", error
        )

    async def _read(self, link: _Link, stream: str, limit: int) -> list[Msg]:
        """Up to ``limit`` messages of ``stream`` from the first, through a throwaway consumer."""
        if limit < 1 or (await link.js.stream_info(stream)).state.messages == 0:
            return []
        info = await link.js.add_consumer(
            stream,
            ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=60.0,
                mem_storage=True,
            ),
        )
        try:
            if not (count := min(limit, info.num_pending or 0)):
                return []
            subscription = await link.js.pull_subscribe_bind(consumer=info.name, stream=stream)
            try:
                return await subscription.fetch(count, timeout=self._timeout)
            except NatsTimeoutError:
                return []  # another reader deleted them meanwhile
            finally:
                await subscription.unsubscribe()
        finally:
            with suppress(NotFoundError):
                await link.js.delete_consumer(stream, info.name or "")


class NatsDelivery:
    """A message pulled from the durable consumer; settled through the broker's connection."""

    def __init__(self, broker: NatsBroker, msg: Msg) -> None:
        self._broker = broker
        self._reply = msg.reply
        self._metadata = msg.metadata
        self._origin = _Origin(msg.metadata.stream, msg.metadata.sequence.stream, msg.subject)
        self._headers = msg.headers or {}
        self._message = _message_of(self._headers, msg.data)

    @property
    def message(self) -> Message:
        """What was received."""
        return self._message

    @property
    def attempt(self) -> int:
        """JetStream's own count of deliveries of this message."""
        return self._metadata.num_delivered

    async def ack(self) -> None:
        """Done; confirmed by JetStream, so it is never delivered again."""
        await self._broker._settle(self._reply, Msg.Ack.Ack)

    async def in_progress(self) -> None:
        """``+WPI``: JetStream restarts the ack wait and counts no delivery; confirmed."""
        await self._broker._settle(self._reply, Msg.Ack.Progress)

    async def retry(self, delay: float) -> None:
        """Nak with a delay: JetStream delivers it again after ``delay`` seconds."""
        verdict = Msg.Ack.Nak
        if delay > 0:
            verdict += b" " + json.dumps({"delay": int(delay * 1e9)}).encode()
        await self._broker._settle(self._reply, verdict)

    async def dead_letter(self, error: str) -> None:
        """Copy it to the dead-letter stream (confirmed), then terminate its redelivery."""
        await self._broker._bury(self._origin, self._headers, self._message.body, error)
        await self._broker._settle(self._reply, Msg.Ack.Term)


class NatsDeliveries:
    """Deliveries, one pull request at a time.

    Not a generator on purpose: a caller's timeout cancels one ``__anext__``
    without ending the iteration; a message that arrives after it waits in
    the subscription for the next call.
    """

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._subscribed_on: _Link | None = None
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Delivery:
        while not self._closed:
            async with self._broker._session() as link:
                await self._broker._rescue_when_due(link)
                subscription = await self._subscription_on(link)
                with suppress(NatsTimeoutError):
                    (msg,) = await subscription.fetch(1, timeout=POLL_SECONDS)
                    return NatsDelivery(self._broker, msg)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop pulling and drop the subscription."""
        self._closed = True
        link, subscription = self._subscribed_on, self._subscription
        if link is not None and subscription is not None and not link.client.is_closed:
            with suppress(NatsError):
                await subscription.unsubscribe()
        self._subscription = self._subscribed_on = None

    async def _subscription_on(self, link: _Link) -> JetStreamContext.PullSubscription:
        """The subscription on the current connection; a new one after a reconnect."""
        if self._subscription is None or self._subscribed_on is not link:
            self._subscription = await self._broker._subscribe(link)
            self._subscribed_on = link
        return self._subscription


async def _log_error(error: Exception) -> None:
    """Connection errors are reported where they surface; note them without a traceback."""
    log.warning("nats connection error", error=str(error) or type(error).__name__)


def create_broker(settings: Settings) -> NatsBroker:
    """The broker of this adapter; it connects on first use."""
    return NatsBroker.from_settings(settings)
