"""The event consumer: settles every delivery exactly once, whatever happens.

A handled event is acked; a duplicate (the inbox knows it) is acked without
effect. A message that can never succeed goes straight to the dead letters
with its error: a malformed one, or one a downstream refused for good.

An unavailable dependency (the database, a downstream, an open circuit) is
"try later", never a poison message: the consumer keeps the delivery in hand,
unsettled, waits with exponential backoff and jitter (never sooner than the
error asks: an open circuit's cool-down, a ``Retry-After``), telling the broker
that it is still at work so that its redelivery timer never runs out, and
handles it again; as long as the outage lasts. No broker attempt is spent, so
an outage of any length dead-letters nothing; and nothing else is pulled
meanwhile, since every other event would fail the same way (back-pressure). A
stop ends the wait at once and returns the message to the broker.

Any other failure (a bug) is retried with exponential backoff and jitter until
the last attempt, and then dead-lettered with its error, to be replayed once
the cause is fixed.
"""

import asyncio
import contextlib
import time
from enum import StrEnum

import structlog

from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.cloudevents import MalformedEventError, from_message
from {{ cookiecutter.package_name }}.messaging.metrics import (
    CONSUMER_DELAYS,
    CONSUMER_HOLDING,
    CONSUMER_LATENCY,
    CONSUMER_MESSAGES,
)
from {{ cookiecutter.package_name }}.messaging.port import Broker, Delivery
from {{ cookiecutter.package_name }}.observability.tracing import continued_trace, log_fields
from {{ cookiecutter.package_name }}.resilience.backoff import backoff_seconds
from {{ cookiecutter.package_name }}.resilience.errors import DownstreamRejectedError
from {{ cookiecutter.package_name }}.settings import Settings

log = structlog.get_logger(__name__)

_RECONNECT_BASE_SECONDS = 0.5
_RECONNECT_CAP_SECONDS = 30.0
# Closing a subscription waits for the broker; one that is gone must not hold up a stop.
_CLOSE_SECONDS = 5.0
# A held delivery is renewed this many times per ack timeout, to keep the broker's lease.
_RENEWALS_PER_ACK_TIMEOUT = 3


class Outcome(StrEnum):
    """How a delivery was settled."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class EventConsumer:
    """Feeds the broker's deliveries to the projector, one at a time."""

    def __init__(
        self, broker: Broker, projector: CustomerActivityProjector, settings: Settings
    ) -> None:
        self._broker = broker
        self._projector = projector
        self._max_attempts = settings.consumer_max_attempts
        self._retry_base = settings.consumer_retry_base_seconds
        self._retry_cap = settings.consumer_retry_max_seconds
        self._renew_every = settings.consumer_ack_timeout_seconds / _RENEWALS_PER_ACK_TIMEOUT
        self._idle = asyncio.Event()
        self._idle.set()
        # Set by ``run`` once it is told to stop: a delivery held for an outage goes back.
        self._stopping = asyncio.Event()

    async def settle(self, delivery: Delivery) -> Outcome:
        """Handle one delivery and settle it with the broker."""
        message = delivery.message
        began = time.perf_counter()
        with (
            continued_trace(message.headers),
            structlog.contextvars.bound_contextvars(
                event_id=message.id,
                event_type=message.type,
                attempt=delivery.attempt,
                **log_fields(message.headers),
            ),
        ):
            outcome = await self._settle(delivery)
            log.info("event_settled", outcome=outcome.value)
        CONSUMER_MESSAGES.labels(outcome.value).inc()
        CONSUMER_LATENCY.observe(time.perf_counter() - began)
        return outcome

    async def _settle(self, delivery: Delivery) -> Outcome:
        try:
            event = from_message(delivery.message)
        except MalformedEventError as error:
            await delivery.dead_letter(_describe(error))
            return Outcome.DEAD_LETTERED
        if event is None:
            await delivery.ack()
            return Outcome.IGNORED
        waits = 0
        try:
            while True:
                try:
                    handled = await self._projector.handle(event)
                except DownstreamRejectedError as error:
                    return await self._dead_letter(delivery, error)
                except ServiceUnavailableError as error:  # try later, with the delivery in hand
                    waits += 1
                    CONSUMER_HOLDING.set(1)
                    if await self._held(delivery, error, waits):
                        continue
                    await delivery.retry(0)  # stopping: back to the broker, for another consumer
                    return Outcome.RETRIED
                except Exception as error:  # every other failure is retried, then dead-lettered
                    return await self._failed(delivery, error)
                await delivery.ack()
                return Outcome.HANDLED if handled else Outcome.DUPLICATE
        finally:
            if waits:
                CONSUMER_HOLDING.set(0)

    async def _held(self, delivery: Delivery, error: ServiceUnavailableError, waits: int) -> bool:
        """Keep ``delivery`` unsettled for a backoff, renewing its lease; False if stopping.

        Renewed at once (handling may have taken a while) and then every third
        of the ack timeout, so the broker never hands the message to another
        consumer, nor counts a delivery, however long the dependency stays away.
        """
        delay = backoff_seconds(waits, base=self._retry_base, cap=self._retry_cap)
        if error.retry_after_seconds is not None:
            delay = max(delay, error.retry_after_seconds)
        log.warning(
            "event_delayed", error=_describe(error), delay_seconds=round(delay, 3), waits=waits
        )
        CONSUMER_DELAYS.inc()
        deadline = time.monotonic() + delay
        while not self._stopping.is_set():
            await delivery.in_progress()
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, self._renew_every)):
                    await self._stopping.wait()
        return False

    async def _dead_letter(self, delivery: Delivery, error: Exception) -> Outcome:
        log.error("event_dead_lettered", error=_describe(error))
        await delivery.dead_letter(_describe(error))
        return Outcome.DEAD_LETTERED

    async def _failed(self, delivery: Delivery, error: Exception) -> Outcome:
        if delivery.attempt >= self._max_attempts:
            return await self._dead_letter(delivery, error)
        delay = backoff_seconds(delivery.attempt, base=self._retry_base, cap=self._retry_cap)
        log.warning("event_retried", error=_describe(error), delay_seconds=round(delay, 3))
        await delivery.retry(delay)
        return Outcome.RETRIED

    async def consume(self) -> None:
        """Settle deliveries until cancelled, reconnecting with backoff after outages."""
        failures = 0
        while True:
            deliveries = self._broker.deliveries()
            try:
                async for delivery in deliveries:
                    failures = 0
                    self._idle.clear()
                    try:
                        await self.settle(delivery)
                    finally:
                        self._idle.set()
            except ServiceUnavailableError as error:
                failures += 1
                delay = backoff_seconds(
                    failures, base=_RECONNECT_BASE_SECONDS, cap=_RECONNECT_CAP_SECONDS
                )
                log.warning("consumer_unavailable", error=error.message, retry_in=round(delay, 3))
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(TimeoutError, ServiceUnavailableError):
                    async with asyncio.timeout(_CLOSE_SECONDS):
                        await deliveries.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the delivery in hand is settled first.

        One held for an unavailable dependency is returned to the broker at once.
        """
        consuming = asyncio.create_task(self.consume())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({consuming, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if consuming.done():
            await consuming  # it failed: let the error end the process
            return
        self._stopping.set()
        await self._idle.wait()
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
