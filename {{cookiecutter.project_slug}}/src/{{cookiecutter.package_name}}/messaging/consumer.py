"""The event consumer: settles every delivery exactly once, whatever happens.

A handled event is acked; a duplicate (the inbox knows it) is acked without
effect. A message that can never succeed goes straight to the dead letters
with its error: a malformed one, or one a downstream refused for good. Any
other failure is retried with exponential backoff and jitter, never sooner
than an unavailable dependency asks (an open circuit's cool-down, a
``Retry-After``), until the last attempt, and then dead-lettered with its
error, to be replayed once the cause is fixed.
"""

import asyncio
import contextlib
import time
from enum import StrEnum

import structlog

from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.cloudevents import MalformedEventError, from_message
from {{ cookiecutter.package_name }}.messaging.metrics import CONSUMER_LATENCY, CONSUMER_MESSAGES
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
        self._idle = asyncio.Event()
        self._idle.set()

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
        try:
            handled = await self._projector.handle(event)
        except DownstreamRejectedError as error:
            return await self._dead_letter(delivery, error)
        except Exception as error:  # every other failure is retried, then dead-lettered
            return await self._failed(delivery, error)
        await delivery.ack()
        return Outcome.HANDLED if handled else Outcome.DUPLICATE

    async def _dead_letter(self, delivery: Delivery, error: Exception) -> Outcome:
        log.error("event_dead_lettered", error=_describe(error))
        await delivery.dead_letter(_describe(error))
        return Outcome.DEAD_LETTERED

    async def _failed(self, delivery: Delivery, error: Exception) -> Outcome:
        if delivery.attempt >= self._max_attempts:
            return await self._dead_letter(delivery, error)
        delay = backoff_seconds(delivery.attempt, base=self._retry_base, cap=self._retry_cap)
        if isinstance(error, ServiceUnavailableError) and error.retry_after_seconds is not None:
            delay = max(delay, error.retry_after_seconds)
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
        """Consume until ``stop`` is set; the delivery in hand is settled first."""
        consuming = asyncio.create_task(self.consume())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({consuming, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if consuming.done():
            await consuming  # it failed: let the error end the process
            return
        await self._idle.wait()
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
