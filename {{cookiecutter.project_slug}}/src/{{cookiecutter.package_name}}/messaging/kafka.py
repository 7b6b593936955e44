"""The Kafka adapter (aiokafka): an idempotent producer, one consumer group, a DLT.

Kafka keeps no per-message state: a consumer group only remembers, per partition,
the offset to read from next. So this adapter commits an offset only once every
message before it is settled, keeps a message it must retry in process (its
offset stays uncommitted, so a successor re-reads it if this process dies), and
copies a dead letter to ``<topic>.DLT`` before committing past the original. The
DLT is read by a second group whose committed offsets mark what was replayed.

A member that does not poll for ``max_poll_interval_ms`` leaves the group, and
its partitions (with the message in hand) go to another member. So a message
kept in progress (the consumer waiting for an unavailable dependency) pauses
every assigned partition and polls: the poll keeps the membership, fetches
nothing, and the partitions resume with the next read. A record that still
arrives (from a partition assigned by a rebalance meanwhile) waits in process.
"""

import asyncio
import heapq
import itertools
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code  # type: ignore[import-untyped]

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import DeadLetter, Delivery, Message, Topology
from {{ cookiecutter.package_name }}.settings import Settings

DEPENDENCY = "message broker"
DEFAULT_PORT = 9092
# Partitions bound how many consumers share the work; keys keep their order within one.
EVENT_PARTITIONS = 6
# Dead letters are rare: one partition keeps them in a single oldest-first order.
DEAD_LETTER_PARTITIONS = 1
MAX_REPLICATION_FACTOR = 3
# Kafka refuses sessions shorter than its group.min.session.timeout.ms (6 s by default).
MIN_SESSION_SECONDS = 6.0
MIN_SESSION_OPTION = "min_session_ms"
MAX_SESSION_SECONDS = 45.0
POLL_SECONDS = 1.0
JOIN_MARGIN_SECONDS = 30.0

# Headers this adapter writes besides the message's own; a message must not use them.
ID_HEADER = "message-id"
TYPE_HEADER = "message-type"
ORIGIN_TOPIC_HEADER = "dlt-original-topic"
ORIGIN_PARTITION_HEADER = "dlt-original-partition"
ORIGIN_OFFSET_HEADER = "dlt-original-offset"
ERROR_HEADER = "dlt-error"
DEAD_LETTERED_AT_HEADER = "dlt-dead-lettered-at"
OWN_HEADERS = (ID_HEADER, TYPE_HEADER)
DEAD_LETTER_HEADERS = (
    ORIGIN_TOPIC_HEADER,
    ORIGIN_PARTITION_HEADER,
    ORIGIN_OFFSET_HEADER,
    ERROR_HEADER,
    DEAD_LETTERED_AT_HEADER,
)

type Headers = list[tuple[str, bytes]]
type Records = Sequence[tuple[str, bytes, Headers]]
type Send = Callable[[str, Records], Awaitable[None]]


def asyncapi_server() -> dict[str, str]:
    """Where and how the AsyncAPI document says this broker is reached."""
    return {"host": "localhost:9092", "protocol": "kafka"}


def topology(namespace: str) -> Topology:
    """The topic, consumer group and dead-letter topic of the events namespace."""
    return Topology(
        events=f"{namespace}.orders",
        consumer=f"{namespace}.customer-activity",
        dead_letters=f"{namespace}.orders.DLT",
    )


def replay_group(names: Topology) -> str:
    """The group whose committed offsets on the DLT mark the letters already replayed."""
    return f"{names.consumer}.replay"


def liveness(ack_timeout: float, min_session: float = MIN_SESSION_SECONDS) -> dict[str, int]:
    """Kafka's timers for a member of the consumer group, from the ack timeout.

    A member that holds a message beyond the ack timeout without keeping it
    in progress leaves the group (``max_poll_interval_ms``); one that dies is
    noticed after the session timeout: the ack timeout, within the bounds the
    cluster accepts (``min_session`` seconds at least).
    """
    session = min(max(ack_timeout, min_session), MAX_SESSION_SECONDS)
    return {
        # A JoinGroup request waits for the rebalance: longer than a session.
        "request_timeout_ms": int((session + JOIN_MARGIN_SECONDS) * 1000),
        "max_poll_interval_ms": int(max(ack_timeout, session) * 1000),
        "session_timeout_ms": int(session * 1000),
        "heartbeat_interval_ms": int(session * 1000 / 6),
    }


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the cluster is and what it allows, from a ``kafka://`` URL.

    ``kafka://host:port[,host:port...][?idempotence=false&min_session_ms=N]``.
    Idempotence is on unless the URL turns it off, for the brokers that cannot
    give a producer an id (Kafka-compatible servers that lack InitProducerId v0).
    ``min_session_ms`` is the cluster's ``group.min.session.timeout.ms`` where it
    is not Kafka's default of 6000: a member's session may then follow a
    shorter ack timeout.
    """

    servers: list[str]
    idempotence: bool = True
    min_session: float = MIN_SESSION_SECONDS

    @classmethod
    def parse(cls, url: str) -> Self:
        """The address in ``url``; ``ValueError`` saying the expected form otherwise."""
        hosts, _, query = url.partition("?")
        options = dict(option.partition("=")[::2] for option in query.split("&") if option)
        idempotence = options.pop("idempotence", "true")
        min_session_ms = options.pop(MIN_SESSION_OPTION, str(int(MIN_SESSION_SECONDS * 1000)))
        servers = [_server(item) for item in hosts.split(",")]
        if (
            None in servers
            or options
            or idempotence not in {"true", "false"}
            or not min_session_ms.isdigit()
            or not 0 < int(min_session_ms) <= MAX_SESSION_SECONDS * 1000
        ):
            message = (
                "BROKER_URL must look like kafka://host:9092[,host:9092...]"
                f"[?idempotence=false&{MIN_SESSION_OPTION}=6000], not {url!r}"
            )
            raise ValueError(message)
        return cls(
            [server for server in servers if server],
            idempotence=idempotence == "true",
            min_session=int(min_session_ms) / 1000,
        )


def _server(item: str) -> str | None:
    """``host:port`` of one ``[kafka://]host[:port]``, or None if it is not one."""
    scheme, separator, address = item.strip().rpartition("://")
    host, _, port = address.partition(":")
    port = port or str(DEFAULT_PORT)
    if (separator and scheme != "kafka") or not host or not port.isdigit() or "/" in address:
        return None
    return f"{host}:{port}"


@contextmanager
def _unavailable() -> Iterator[None]:
    """Report the client's failures as the broker being unavailable."""
    try:
        yield
    except (KafkaError, OSError, TimeoutError) as error:
        raise ServiceUnavailableError(DEPENDENCY) from error


def _encode(message: Message) -> Headers:
    own = [(ID_HEADER, message.id), (TYPE_HEADER, message.type)]
    return [(name, value.encode()) for name, value in [*message.headers.items(), *own]]


def _decode(record: ConsumerRecord) -> tuple[Message, dict[str, str]]:
    """The message in a record, and the adapter's own headers apart from it."""
    headers = {name: value.decode() for name, value in record.headers}
    own = {
        name: headers.pop(name) for name in [*OWN_HEADERS, *DEAD_LETTER_HEADERS] if name in headers
    }
    message = Message(
        # A record from another producer still gets an id, so that it can be dead-lettered.
        id=own.get(ID_HEADER, f"{record.topic}-{record.partition}-{record.offset}"),
        type=own.get(TYPE_HEADER, ""),
        key=(record.key or b"").decode(),
        body=record.value or b"",
        headers=headers,
    )
    return message, own


def _dead_letter(record: ConsumerRecord) -> DeadLetter:
    message, own = _decode(record)
    origin = (
        f"{own[ORIGIN_TOPIC_HEADER]}[{own[ORIGIN_PARTITION_HEADER]}]@{own[ORIGIN_OFFSET_HEADER]}"
    )
    return DeadLetter(
        message=message,
        error=own[ERROR_HEADER],
        origin=origin,
        dead_lettered_at=datetime.fromisoformat(own[DEAD_LETTERED_AT_HEADER]),
    )


class KafkaBroker:
    """The ``Broker`` port on Kafka: a lazily connected producer, a consumer per iteration."""

    def __init__(self, address: BrokerAddress, names: Topology, settings: Settings) -> None:
        self._address = address
        self._names = names
        self._timeout = settings.broker_connect_timeout_seconds
        self._ack_timeout = settings.consumer_ack_timeout_seconds
        self._producer: AIOKafkaProducer | None = None
        self._declared = False
        self._lock = asyncio.Lock()
        self._subscriptions: weakref.WeakSet[_Subscription] = weakref.WeakSet()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """An adapter that connects on first use; a malformed ``broker_url`` fails here."""
        return cls(
            BrokerAddress.parse(settings.broker_url), topology(settings.events_namespace), settings
        )

    def _client_options(self) -> dict[str, Any]:
        timeout_ms = int(self._timeout * 1000)
        return {
            "bootstrap_servers": self._address.servers,
            "request_timeout_ms": timeout_ms,
            "retry_backoff_ms": 200,
        }

    async def publish(self, messages: Sequence[Message]) -> None:
        """Send every message, then wait for every acknowledgement (acks=all)."""
        await self._send(self._names.events, [(m.key, m.body, _encode(m)) for m in messages])

    async def _send(self, topic: str, records: Records) -> None:
        producer = await self._ready_producer()
        try:
            with _unavailable():
                async with asyncio.timeout(self._timeout):
                    sent = [
                        await producer.send(topic, body, key.encode(), headers=headers)
                        for key, body, headers in records
                    ]
                    await asyncio.gather(*sent)
        except ServiceUnavailableError:
            await self._drop_producer(producer)
            raise

    async def _ensure_declared(self) -> None:
        async with self._lock:
            if not self._declared:
                await self._declare()
                self._declared = True

    async def _ready_producer(self) -> AIOKafkaProducer:
        await self._ensure_declared()
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self._client_options(),
                    enable_idempotence=self._address.idempotence,
                    acks="all",
                )
                await self._start(producer)
                self._producer = producer
            return self._producer

    async def _drop_producer(self, producer: AIOKafkaProducer) -> None:
        """Forget a producer that failed, so that the next call connects afresh."""
        if self._producer is producer:
            self._producer = None
        await self._stop(producer)

    async def _start(self, client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
        """Start a client, or stop what it opened (also when the caller gives up waiting)."""
        try:
            with _unavailable():
                async with asyncio.timeout(self._timeout):
                    await client.start()
        except BaseException:
            await self._stop(client)
            raise

    async def _stop(self, client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
        """Stop a client, giving up on what it still has to flush after the timeout."""
        with suppress(KafkaError, OSError, TimeoutError):
            async with asyncio.timeout(self._timeout):
                await client.stop()

    @asynccontextmanager
    async def _admin(self) -> AsyncIterator[AIOKafkaAdminClient]:
        admin = AIOKafkaAdminClient(**self._client_options())
        try:
            with _unavailable():
                async with asyncio.timeout(self._timeout):
                    await admin.start()
                yield admin
        finally:
            await admin.close()

    async def _declare(self) -> None:
        """Create the topics this service uses unless they exist."""
        async with self._admin() as admin:
            with _unavailable():
                async with asyncio.timeout(self._timeout):
                    cluster = await admin.describe_cluster()
                    replicas = min(len(cluster["brokers"]), MAX_REPLICATION_FACTOR)
                    topics = [
                        NewTopic(self._names.events, EVENT_PARTITIONS, replicas),
                        NewTopic(self._names.dead_letters, DEAD_LETTER_PARTITIONS, replicas),
                    ]
                    response = await admin.create_topics(topics)
            for topic, code, *_ in response.topic_errors:
                if code and for_code(code) is not TopicAlreadyExistsError:
                    message = f"cannot create the topic {topic}: {for_code(code).__name__}"
                    raise ServiceUnavailableError(DEPENDENCY) from for_code(code)(message)

    def deliveries(self) -> "_Subscription":
        """Messages of the consumer group, one at a time, from a consumer of their own.

        An iterator rather than a generator: a caller's timeout cancels one wait
        for the next message, not the subscription.
        """
        subscription = _Subscription(self._subscribed, self._send, self._names.dead_letters)
        self._subscriptions.add(subscription)
        return subscription

    async def _subscribed(self) -> AIOKafkaConsumer:
        """A started consumer of the events topic; it joins the group while polling."""
        await self._ensure_declared()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._address.servers,
            group_id=self._names.consumer,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **liveness(self._ack_timeout, self._address.min_session),
        )
        await self._start(consumer)
        consumer.subscribe([self._names.events])
        return consumer

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The oldest letters not yet replayed, read without committing anything."""
        async with self._dead_letter_reader() as reader:
            return [_dead_letter(record) for record in await reader.oldest(limit)]

    async def replay_dead_letters(self, limit: int) -> int:
        """Publish the oldest letters again (acked), then commit past them on the DLT."""
        async with self._dead_letter_reader() as reader:
            records = await reader.oldest(limit)
            if not records:
                return 0
            by_topic: dict[str, list[tuple[str, bytes, Headers]]] = {}
            for record in records:
                message, own = _decode(record)
                by_topic.setdefault(own[ORIGIN_TOPIC_HEADER], []).append(
                    (message.key, message.body, _encode(message))
                )
            for topic, letters in by_topic.items():
                await self._send(topic, letters)
            await reader.commit_past(records)
            return len(records)

    @asynccontextmanager
    async def _dead_letter_reader(self) -> AsyncIterator["_DeadLetterReader"]:
        await self._ensure_declared()
        consumer = AIOKafkaConsumer(
            **self._client_options(),
            group_id=replay_group(self._names),
            enable_auto_commit=False,
        )
        await self._start(consumer)
        try:
            with _unavailable():
                yield _DeadLetterReader(consumer, self._names.dead_letters, self._timeout)
        finally:
            await self._stop(consumer)

    async def ping(self) -> None:
        """Ask the cluster for its brokers."""
        async with self._admin() as admin:
            with _unavailable():
                async with asyncio.timeout(self._timeout):
                    await admin.describe_cluster()

    async def close(self) -> None:
        """Stop the producer and every consumer still iterating."""
        for subscription in list(self._subscriptions):
            await subscription.aclose()
        if self._producer is not None:
            await self._drop_producer(self._producer)


@dataclass(order=True)
class _Retry:
    due: float
    sequence: int
    record: ConsumerRecord = field(compare=False)
    attempt: int = field(compare=False)


@dataclass
class _Progress:
    """Offsets of one partition: those in hand, and the one after the last settled."""

    unsettled: set[int] = field(default_factory=set)
    settled_up_to: int = 0

    def commit_point(self) -> int:
        return min(self.unsettled, default=self.settled_up_to)


class _Subscription:
    """One iteration of ``deliveries()``: its consumer, what it holds, and when to retry."""

    def __init__(
        self, subscribe: Callable[[], Awaitable[AIOKafkaConsumer]], send: Send, dead_letters: str
    ) -> None:
        self._subscribe = subscribe
        self._consumer: AIOKafkaConsumer | None = None
        self._closed = False
        self._send = send
        self._dead_letters = dead_letters
        self._retries: list[_Retry] = []
        self._sequence = itertools.count()
        self._progress: dict[TopicPartition, _Progress] = {}

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Delivery:
        if self._closed:
            raise StopAsyncIteration
        if self._consumer is None:
            self._consumer = await self._subscribe()
        return await self._next(self._consumer)

    async def aclose(self) -> None:
        """Leave the group; what is unsettled goes to the next member."""
        self._closed = True
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with suppress(KafkaError, OSError, TimeoutError):
                await consumer.stop()

    async def keep_membership(self) -> None:
        """Poll without fetching: paused partitions keep the group from timing this member out.

        aiokafka drops what it prefetched for a paused partition without moving
        its position, so nothing is skipped; a partition assigned since the last
        pause may still hand out a record, which is kept to be read next.
        """
        consumer = self._consumer
        if consumer is None:
            raise ServiceUnavailableError(DEPENDENCY)  # closed: the next member reads it
        consumer.pause(*consumer.assignment())
        with _unavailable():
            batch = await consumer.getmany(timeout_ms=0)
        for records in batch.values():
            for record in records:
                self._received(record)
                due = time.monotonic()
                heapq.heappush(self._retries, _Retry(due, next(self._sequence), record, 1))

    async def _next(self, consumer: AIOKafkaConsumer) -> "_KafkaDelivery":
        if paused := consumer.paused():
            consumer.resume(*paused)
        while True:
            if self._retries and self._retries[0].due <= time.monotonic():
                retry = heapq.heappop(self._retries)
                if self._assigned(consumer, retry.record):  # else a new owner reads it again
                    return _KafkaDelivery(self, retry.record, retry.attempt)
                continue
            wait = self._retries[0].due - time.monotonic() if self._retries else POLL_SECONDS
            with _unavailable():
                batch = await consumer.getmany(
                    timeout_ms=int(max(min(wait, POLL_SECONDS), 0) * 1000), max_records=1
                )
            for records in batch.values():
                return self._received(records[0])

    def _received(self, record: ConsumerRecord) -> "_KafkaDelivery":
        partition = TopicPartition(record.topic, record.partition)
        progress = self._progress.setdefault(partition, _Progress(settled_up_to=record.offset))
        progress.unsettled.add(record.offset)
        return _KafkaDelivery(self, record, attempt=1)

    @staticmethod
    def _assigned(consumer: AIOKafkaConsumer, record: ConsumerRecord) -> bool:
        return TopicPartition(record.topic, record.partition) in consumer.assignment()

    def retry(self, record: ConsumerRecord, attempt: int, delay: float) -> None:
        due = time.monotonic() + delay
        heapq.heappush(self._retries, _Retry(due, next(self._sequence), record, attempt + 1))

    async def settle(self, record: ConsumerRecord) -> None:
        """Forget the record, committing as far as every earlier one is settled too."""
        partition = TopicPartition(record.topic, record.partition)
        progress = self._progress[partition]
        before = progress.commit_point()
        progress.unsettled.discard(record.offset)
        progress.settled_up_to = max(progress.settled_up_to, record.offset + 1)
        after = progress.commit_point()
        if after > before:
            if self._consumer is None:
                raise ServiceUnavailableError(DEPENDENCY)  # closed: the next member reads it
            with _unavailable():
                await self._consumer.commit({partition: after})

    async def dead_letter(self, record: ConsumerRecord, error: str) -> None:
        headers = [
            *record.headers,
            (ORIGIN_TOPIC_HEADER, record.topic.encode()),
            (ORIGIN_PARTITION_HEADER, str(record.partition).encode()),
            (ORIGIN_OFFSET_HEADER, str(record.offset).encode()),
            (ERROR_HEADER, error.encode()),
            (DEAD_LETTERED_AT_HEADER, datetime.now(UTC).isoformat().encode()),
        ]
        await self._send(self._dead_letters, [(record.key.decode(), record.value, headers)])
        await self.settle(record)


class _KafkaDelivery:
    """A record in hand; settling it twice is a programming error."""

    def __init__(self, subscription: _Subscription, record: ConsumerRecord, attempt: int) -> None:
        self._subscription = subscription
        self._record = record
        self._attempt = attempt
        self._message, _ = _decode(record)

    @property
    def message(self) -> Message:
        """What was received."""
        return self._message

    @property
    def attempt(self) -> int:
        """Counted in this process: a successor starts again at 1."""
        return self._attempt

    async def ack(self) -> None:
        """Commit past the record once every earlier one is settled."""
        await self._subscription.settle(self._record)

    async def in_progress(self) -> None:
        """Keep this member in its group (and so the record's partition) while it waits."""
        await self._subscription.keep_membership()

    async def retry(self, delay: float) -> None:
        """Hand the record out again after ``delay``; its offset stays uncommitted."""
        self._subscription.retry(self._record, self._attempt, delay)

    async def dead_letter(self, error: str) -> None:
        """Copy the record to the DLT (acked), then commit past it."""
        await self._subscription.dead_letter(self._record, error)


class _DeadLetterReader:
    """The DLT from the replay group's committed offsets to its end, on an assigned consumer."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str, timeout: float) -> None:
        self._consumer = consumer
        self._topic = topic
        self._timeout = timeout

    async def oldest(self, limit: int) -> list[ConsumerRecord]:
        await self._consumer.topics()  # fetches the metadata that names the partitions
        numbers = self._consumer.partitions_for_topic(self._topic) or set()
        partitions = [TopicPartition(self._topic, number) for number in sorted(numbers)]
        self._consumer.assign(partitions)
        ends: Mapping[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        per_partition = [await self._read(tp, ends[tp], limit) for tp in partitions]
        merged = heapq.merge(*per_partition, key=lambda record: record.timestamp)
        return list(itertools.islice(merged, limit))

    async def _read(self, partition: TopicPartition, end: int, limit: int) -> list[ConsumerRecord]:
        start = await self._consumer.committed(partition)
        if start is None:
            await self._consumer.seek_to_beginning(partition)
        else:
            self._consumer.seek(partition, start)
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(self._timeout):
            while len(records) < limit and await self._consumer.position(partition) < end:
                batch = await self._consumer.getmany(partition, timeout_ms=200)
                records.extend(batch.get(partition, []))
        return records[:limit]

    async def commit_past(self, records: Sequence[ConsumerRecord]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
        await self._consumer.commit(offsets)


def create_broker(settings: Settings) -> KafkaBroker:
    """The broker of this adapter; it connects on first use."""
    return KafkaBroker.from_settings(settings)
