"""The outbox relay: publishes committed events to the broker, at least once.

Each round leases a batch of outbox rows, publishes them and waits for the
broker's confirmation, then deletes them. A relay that dies mid-round leaves
leased rows that another relay takes once the lease ends; the consumer's inbox
absorbs the duplicate that this can cause. While the broker or the database is
down the rows simply wait, and the relay backs off.
"""

import asyncio
import os
import socket
from datetime import timedelta
from uuid import uuid4

import structlog

from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.cloudevents import to_message
from {{ cookiecutter.package_name }}.messaging.metrics import (
    OUTBOX_LAG,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISHED,
)
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.resilience.backoff import backoff_seconds
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.events import OutboxRelayStore
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError

log = structlog.get_logger(__name__)

BACKLOG_REFRESH_SECONDS = 5.0
_MAX_BACKOFF_SECONDS = 30.0


def relay_owner() -> str:
    """A name unique to this relay process, recorded on the rows it leases."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid4().hex[:8]}"


class OutboxRelay:
    """Moves outbox rows to the broker."""

    def __init__(
        self,
        store: OutboxRelayStore,
        broker: Broker,
        settings: Settings,
        *,
        owner: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._broker = broker
        self._source = settings.events_source
        self._batch_size = settings.outbox_relay_batch_size
        self._lease = timedelta(seconds=settings.outbox_relay_lease_seconds)
        self._idle_seconds = settings.outbox_relay_idle_seconds
        self.owner = owner or relay_owner()
        self._clock = clock

    async def relay_once(self) -> int:
        """Publish one batch; how many events the broker confirmed.

        Raises ``ServiceUnavailableError`` when the broker or the database is down;
        the batch is released for the next round (or, failing that, its lease ends).
        """
        claimed = await self._store.claim(
            self.owner, limit=self._batch_size, lease=self._lease, now=self._clock()
        )
        if not claimed:
            return 0
        ids = [pending.event.id for pending in claimed]
        try:
            await self._broker.publish([to_message(pending, self._source) for pending in claimed])
        except ServiceUnavailableError:
            OUTBOX_PUBLISH_FAILURES.inc()
            await self._store.release(self.owner, ids)
            raise
        await self._store.complete(self.owner, ids)
        for pending in claimed:
            OUTBOX_PUBLISHED.labels(pending.event.type.value).inc()
        return len(claimed)

    async def refresh_backlog(self) -> None:
        """Export the outbox size and the age of its oldest event."""
        backlog = await self._store.backlog(self._clock())
        OUTBOX_PENDING.set(backlog.pending)
        OUTBOX_LAG.set(backlog.oldest_age_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; a round in progress finishes first."""
        failures = 0
        refreshed = 0.0
        loop = asyncio.get_running_loop()
        log.info("relay_started", owner=self.owner)
        while not stop.is_set():
            try:
                if loop.time() - refreshed >= BACKLOG_REFRESH_SECONDS:
                    await self.refresh_backlog()
                    refreshed = loop.time()
                published = await self.relay_once()
            except (ServiceUnavailableError, TransactionConflictError) as error:
                # A conflict (a deadlock with another relay, say) undid the statement whole:
                # the next round claims again, and leased rows return when their lease ends.
                failures += 1
                log.warning("relay_unavailable", error=error.message, failures=failures)
                await _wait(stop, backoff_seconds(failures, base=0.5, cap=_MAX_BACKOFF_SECONDS))
                continue
            failures = 0
            if published < self._batch_size:
                await _wait(stop, self._idle_seconds)
        log.info("relay_stopped", owner=self.owner)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
