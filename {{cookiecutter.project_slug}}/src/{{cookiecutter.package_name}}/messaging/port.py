"""The messaging port: what the relay and the consumer need from a broker.

Each adapter (one file per broker) declares its own topology from the events
namespace, translates its client's failures into ``ServiceUnavailableError``,
and keeps the guarantees written here; the contract tests hold every adapter
to them against the real broker.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Self

from {{ cookiecutter.package_name }}.settings import Settings


@dataclass(frozen=True, slots=True)
class Message:
    """One event on the wire: a structured-mode CloudEvent and its transport headers.

    ``key`` is the ordering key (the order's id): messages with one key reach the
    consumer in the order they were published.
    """

    id: str
    type: str
    key: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Topology:
    """The names this service declares on its broker, all derived from the events namespace.

    Each adapter module provides ``topology(namespace) -> Topology``; the AsyncAPI
    document and the operators' runbooks read the same names.
    """

    events: str
    consumer: str
    dead_letters: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the consumer gave up on, why, and where it was read from."""

    message: Message
    error: str
    origin: str
    dead_lettered_at: datetime | None


class Delivery(Protocol):
    """A received message that the consumer must settle exactly once."""

    @property
    def message(self) -> Message:
        """What was received."""
        ...

    @property
    def attempt(self) -> int:
        """1 on the first delivery; the broker's own count where it keeps one."""
        ...

    async def ack(self) -> None:
        """Done: the broker forgets the message."""
        ...

    async def in_progress(self) -> None:
        """Still at work on it: restart the ack timeout, without counting a delivery.

        The consumer calls it at least every third of the ack timeout while it
        holds a message for an unavailable dependency, so that the broker never
        redelivers it meanwhile, to this consumer or another.
        """
        ...

    async def retry(self, delay: float) -> None:
        """Deliver the message again, no sooner than ``delay`` seconds from now."""
        ...

    async def dead_letter(self, error: str) -> None:
        """Move the message to the dead-letter destination (confirmed), then forget it."""
        ...


class Deliveries(Protocol):
    """One subscription's deliveries, one at a time; :meth:`aclose` ends it.

    Not an async generator on purpose: a wait for the next delivery may be
    cancelled (a shutdown, a timeout) and the iteration must survive it.
    """

    def __aiter__(self) -> Self:
        """The iteration itself."""
        ...

    async def __anext__(self) -> Delivery:
        """The next delivery, waiting for one to arrive."""
        ...

    async def aclose(self) -> None:
        """End the subscription; unsettled deliveries go back to the broker."""
        ...


class Broker(Protocol):
    """A connected broker, with this service's channel, consumer and dead letters declared."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish in order and return once the broker has confirmed every message.

        Raises ``ServiceUnavailableError`` if any is not confirmed: the caller
        keeps them and publishes again, so a message may arrive twice, never zero times.
        """
        ...

    def deliveries(self) -> Deliveries:
        """Messages for this service's consumer, one at a time, until the connection fails.

        The consumer (queue, group, durable consumer) is declared when the adapter
        first connects, so messages published since then wait for it. A message that
        is neither acked nor retried nor dead-lettered (the process died) is delivered
        again, to this or another consumer, after at most the ack timeout.
        Raises ``ServiceUnavailableError`` when the broker goes away; call again later.
        """
        ...

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first, left where they are."""
        ...

    async def replay_dead_letters(self, limit: int) -> int:
        """Publish up to ``limit`` dead letters to the channel again (oldest first); how many."""
        ...

    async def ping(self) -> None:
        """Raise ``ServiceUnavailableError`` unless the broker answers."""
        ...

    async def close(self) -> None:
        """Release every connection."""
        ...


class BrokerAdapter(Protocol):
    """What each broker's adapter module offers, so the container imports one module."""

    def create_broker(self, settings: Settings) -> Broker:
        """The adapter's broker for ``settings``; it connects on first use."""
        ...

    def topology(self, namespace: str) -> Topology:
        """The names the adapter declares for ``namespace``."""
        ...

    def asyncapi_server(self) -> dict[str, str]:
        """The AsyncAPI server object of this broker (host and protocol)."""
        ...
