"""The ``deliver`` worker: signs each due webhook, posts it, and keeps every attempt.

Deliveries are leased, as the outbox relay leases its rows: several workers
share them safely, and the deliveries of a worker that dies go to another once
the lease ends, with the same ``webhook-id``, so the receiver can tell. A
worker claims only as many as it has free slots, so every claimed delivery is
attempted at once and the lease needs to outlast one attempt, not a batch.

Each attempt is signed (Standard Webhooks, with every secret of the endpoint
still signing: two during a rotation) and sent through the resilient client,
under the endpoint's own circuit breaker, to an address the destination policy
allows (checked at connection time, ``webhooks/transport.py``). Then:

- a 2xx delivered it;
- a 410 says the endpoint is gone: the endpoint is disabled and the delivery fails;
- anything else (3xx included: redirects are not followed, a timeout, a
  refused destination, an open circuit) is a failed attempt, tried again after
  the next wait of the retry schedule, jittered, and never sooner than the
  endpoint's ``Retry-After`` (within the longest wait of the schedule). Once
  the schedule is spent the delivery fails, listed to be replayed.

An endpoint failing every attempt for long enough (a run of
``WEBHOOKS_DISABLE_AFTER_FAILURES`` lasting ``WEBHOOKS_DISABLE_AFTER_SECONDS``)
is disabled; any success resets the run.
"""

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

import structlog

from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.domain.orders import to_stored_precision
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from {{ cookiecutter.package_name }}.resilience.backoff import backoff_seconds
from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.errors import (
    CircuitOpenError,
    DownstreamUnavailableError,
    UnavailableAnswerError,
)
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient, retry_after_seconds
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError
from {{ cookiecutter.package_name }}.storage.webhooks import ClaimedDelivery, WebhookStore
from {{ cookiecutter.package_name }}.webhooks.destinations import DestinationPolicy, UnsafeDestinationError
from {{ cookiecutter.package_name }}.webhooks.metrics import (
    WEBHOOK_ATTEMPT_SECONDS,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS_DISABLED,
    WEBHOOK_OLDEST_DUE_AGE,
    WEBHOOK_PENDING,
)
from {{ cookiecutter.package_name }}.webhooks.signatures import signed_headers

log = structlog.get_logger(__name__)

BACKLOG_REFRESH_SECONDS = 5.0
# Each wait of the schedule is drawn within this fraction either side of it.
JITTER = 0.1
GONE = 410
DISABLED_GONE = "410 Gone"
_MAX_BACKOFF_SECONDS = 30.0
# Disabling an endpoint is a compare-and-set; another writer may win this many times at most.
_DISABLE_TRIES = 3

# A uniform draw between two bounds; tests may pin it.
type Draw = Callable[[float, float], float]


def deliverer_owner() -> str:
    """A name unique to this worker process, recorded on the deliveries it leases."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid4().hex[:8]}"


def retry_delay(
    schedule: Sequence[float],
    attempts: int,
    *,
    retry_after: float | None = None,
    draw: Draw = random.uniform,
) -> float | None:
    """Seconds to wait after ``attempts`` failed attempts; ``None`` once the schedule is spent.

    ``schedule[n]`` is the wait before attempt ``n + 1``, jittered by up to
    ``JITTER`` either way; a ``retry_after`` asked by the endpoint (or its open
    circuit) is waited at least, up to the longest wait of the schedule.
    """
    if attempts >= len(schedule):
        return None
    delay = schedule[attempts] * draw(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


class Outcome(StrEnum):
    """What became of one claimed delivery."""

    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"
    # The lease ended before the attempt was recorded: another worker has the delivery.
    LEASE_LOST = "lease_lost"
    # The worker was stopping: given back unattempted, due at once.
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class _Answer:
    """How one attempt went, as the worker saw it.

    ``reached`` says whether it tells anything about the endpoint: an attempt
    its open circuit refused does not add to the endpoint's run of failures.
    """

    result: str
    status_code: int | None = None
    body: bytes = b""
    error: str | None = None
    retry_after_seconds: float | None = None
    reached: bool = True


class WebhookDeliverer:
    """Delivers the due webhooks, under the worker settings ``WEBHOOKS_DELIVER_*``."""

    def __init__(
        self,
        store: WebhookStore,
        client: DownstreamClient,
        breakers: BreakerStore,
        settings: Settings,
        policy: DestinationPolicy,
        *,
        owner: str | None = None,
        clock: Clock = utc_now,
        draw: Draw = random.uniform,
    ) -> None:
        self._store = store
        self._client = client
        self._breakers = breakers
        self._settings = settings
        self._policy = policy
        self.owner = owner or deliverer_owner()
        self._clock = clock
        self._draw = draw
        self._lease = timedelta(seconds=settings.webhooks_deliver_lease_seconds)
        self._circuits: dict[UUID, CircuitBreaker] = {}
        self._backlog_labels: set[str] = set()
        self._user_agent = f"{settings.service_name} webhooks"

    async def deliver_once(self) -> list[Outcome]:
        """Claim the due deliveries one round can take, and attempt each of them."""
        settings = self._settings
        limit = min(settings.webhooks_deliver_batch_size, settings.webhooks_deliver_concurrency)
        claimed = await self._claim(limit)
        return list(await asyncio.gather(*(self.deliver(one) for one in claimed)))

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; attempts in hand finish, claims not yet attempted go back.

        Claims as many deliveries as there are free slots, whenever there are,
        so one slow endpoint holds one slot, not the round.
        """
        settings = self._settings
        slots = settings.webhooks_deliver_concurrency
        in_flight: set[asyncio.Task[Outcome]] = set()
        loop = asyncio.get_running_loop()
        failures = 0
        refreshed = float("-inf")
        log.info("deliverer_started", owner=self.owner)
        try:
            while not stop.is_set():
                wanted = min(slots - len(in_flight), settings.webhooks_deliver_batch_size)
                try:
                    if loop.time() - refreshed >= BACKLOG_REFRESH_SECONDS:
                        await self.refresh_backlog()
                        refreshed = loop.time()
                    claimed = await self._claim(wanted) if wanted else []
                except (ServiceUnavailableError, TransactionConflictError) as error:
                    failures += 1
                    log.warning("deliverer_unavailable", error=str(error), failures=failures)
                    await _wait(stop, backoff_seconds(failures, base=0.5, cap=_MAX_BACKOFF_SECONDS))
                    continue
                failures = 0
                for one in claimed:
                    task = asyncio.create_task(self._deliver_or_release(one, stop))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if len(in_flight) >= slots:
                    await _first_done(in_flight, stop)
                elif len(claimed) < wanted:
                    await _wait(stop, settings.webhooks_deliver_idle_seconds)
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            log.info("deliverer_stopped", owner=self.owner)

    async def refresh_backlog(self) -> None:
        """Export each endpoint's pending deliveries and how late its most overdue one is."""
        seen: set[str] = set()
        for backlog in await self._store.deliveries.backlog(self._clock()):
            label = str(backlog.endpoint_id)
            WEBHOOK_PENDING.labels(label).set(backlog.pending)
            WEBHOOK_OLDEST_DUE_AGE.labels(label).set(backlog.oldest_due_age_seconds)
            seen.add(label)
        for label in self._backlog_labels - seen:
            WEBHOOK_PENDING.remove(label)
            WEBHOOK_OLDEST_DUE_AGE.remove(label)
        self._backlog_labels = seen

    async def deliver(self, claimed: ClaimedDelivery) -> Outcome:
        """Attempt one claimed delivery, record the attempt, and judge the endpoint by it."""
        delivery, endpoint = claimed.delivery, claimed.endpoint
        started = self._clock()
        began = time.monotonic()
        answer = await self._send(delivery, endpoint, started)
        duration = time.monotonic() - began
        WEBHOOK_ATTEMPTS.labels(answer.result).inc()
        WEBHOOK_ATTEMPT_SECONDS.observe(duration)
        excerpt_bytes = self._settings.webhooks_response_excerpt_bytes
        attempt = DeliveryAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts + 1,
            attempted_at=to_stored_precision(started),
            duration_seconds=duration,
            status_code=answer.status_code,
            response_excerpt=answer.body[:excerpt_bytes].decode("utf-8", errors="replace"),
            error=answer.error,
        )
        now = self._clock()
        delay = (
            None
            if attempt.succeeded or answer.status_code == GONE
            else retry_delay(
                self._settings.webhooks_retry_schedule_seconds,
                attempt.number,
                retry_after=answer.retry_after_seconds,
                draw=self._draw,
            )
        )
        after = delivery.attempted(
            attempt, None if delay is None else now + timedelta(seconds=delay), now
        )
        recorded = await self._store.deliveries.record_attempt(self.owner, after, attempt)
        await self._judge(endpoint, attempt, answer)
        outcome = _outcome(after) if recorded else Outcome.LEASE_LOST
        if recorded and after.status is not DeliveryStatus.PENDING:
            WEBHOOK_DELIVERIES.labels(after.status.value).inc()
        log.info(
            "webhook_attempted",
            delivery_id=str(delivery.id),
            endpoint_id=str(endpoint.id),
            event_type=delivery.event_type,
            attempt=attempt.number,
            status_code=attempt.status_code,
            error=attempt.error,
            seconds=round(duration, 3),
            outcome=outcome.value,
            next_attempt_at=after.next_attempt_at.isoformat() if after.next_attempt_at else None,
        )
        return outcome

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        return await self._store.deliveries.claim(
            self.owner, limit=limit, lease=self._lease, now=self._clock()
        )

    async def _deliver_or_release(self, claimed: ClaimedDelivery, stop: asyncio.Event) -> Outcome:
        """One delivery in the worker's loop: a failure is logged, never the end of the worker."""
        try:
            if stop.is_set():
                await self._store.deliveries.release(self.owner, [claimed.delivery.id])
                return Outcome.RELEASED
            return await self.deliver(claimed)
        except (ServiceUnavailableError, TransactionConflictError) as error:
            # The database failed us: if the attempt went unrecorded, the lease ends and
            # another attempt follows (the same webhook-id: the receiver can tell).
            log.warning(
                "webhook_delivery_interrupted",
                delivery_id=str(claimed.delivery.id),
                error=str(error),
            )
        except Exception:
            log.exception("webhook_delivery_crashed", delivery_id=str(claimed.delivery.id))
        return Outcome.LEASE_LOST

    async def _send(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime
    ) -> _Answer:
        """Sign at ``now`` and post; the URL's form is checked here, its addresses on connecting."""
        try:
            self._policy.check_url(endpoint.url)
        except UnsafeDestinationError as error:
            return _Answer("no_response", error=f"destination refused: {error.reason}")
        keys = [secret.key for secret in endpoint.signing_secrets(now)]
        if not keys:
            return _Answer("no_response", error="the endpoint has no signing secret")
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            **signed_headers(delivery.message_id, int(now.timestamp()), body, keys),
        }
        try:
            response = await self._client.post(
                endpoint.url, content=body, headers=headers, breaker=self._circuit(endpoint.id)
            )
        except UnavailableAnswerError as answer:
            return _Answer(
                f"{answer.status_code // 100}xx",
                status_code=answer.status_code,
                body=answer.body,
                retry_after_seconds=answer.retry_after_seconds,
            )
        except CircuitOpenError as error:
            return _Answer(
                "circuit_open",
                error=str(error),
                retry_after_seconds=error.retry_after_seconds,
                reached=False,
            )
        except DownstreamUnavailableError as error:
            return _Answer("no_response", error=error.reason)
        return _Answer(
            f"{response.status_code // 100}xx",
            status_code=response.status_code,
            body=response.content,
            retry_after_seconds=retry_after_seconds(response),
        )

    def _circuit(self, endpoint_id: UUID) -> CircuitBreaker:
        """The endpoint's own circuit breaker: a dead endpoint stops no other."""
        circuit = self._circuits.get(endpoint_id)
        if circuit is None:
            circuit = CircuitBreaker.for_downstream(
                f"webhook:{endpoint_id}", self._settings.webhooks_delivery, self._breakers
            )
            self._circuits[endpoint_id] = circuit
        return circuit

    async def _judge(
        self, endpoint: WebhookEndpoint, attempt: DeliveryAttempt, answer: _Answer
    ) -> None:
        """Keep the endpoint's run of failures; disable it when gone, or failing too long.

        A run is timed by its attempts (when each was made, as recorded), not by
        when the worker judges them: that comes after the attempt's database
        writes, whose time says nothing about the endpoint.
        """
        endpoints = self._store.endpoints
        if attempt.status_code == GONE:
            await self._disable(endpoint.id, DISABLED_GONE, kind="gone")
        elif attempt.succeeded:
            # The run is reset only when the claimed endpoint had one: no write per success.
            if endpoint.failure_streak:
                await endpoints.recovered(endpoint.id)
        elif answer.reached:
            failing = await endpoints.failed(endpoint.id, attempt.attempted_at)
            if failing is not None and failing.failing_since is not None:
                settings = self._settings
                lasted = (attempt.attempted_at - failing.failing_since).total_seconds()
                if (
                    failing.failure_streak >= settings.webhooks_disable_after_failures
                    and lasted >= settings.webhooks_disable_after_seconds
                ):
                    reason = (
                        f"{failing.failure_streak} failed attempts in a row since "
                        f"{failing.failing_since.isoformat()}"
                    )
                    await self._disable(endpoint.id, reason, kind="failing", current=failing)

    async def _disable(
        self,
        endpoint_id: UUID,
        reason: str,
        *,
        kind: str,
        current: WebhookEndpoint | None = None,
    ) -> None:
        endpoints = self._store.endpoints
        for _ in range(_DISABLE_TRIES):
            if current is None:
                current = await endpoints.get(endpoint_id)
            if current is None or current.status is EndpointStatus.DISABLED:
                return
            disabled = current.disable(reason, self._clock())
            if await endpoints.replace(disabled, expected_version=current.version):
                WEBHOOK_ENDPOINTS_DISABLED.labels(kind).inc()
                log.warning(
                    "webhook_endpoint_disabled", endpoint_id=str(endpoint_id), reason=reason
                )
                return
            current = None


def _outcome(delivery: WebhookDelivery) -> Outcome:
    match delivery.status:
        case DeliveryStatus.SUCCEEDED:
            return Outcome.SUCCEEDED
        case DeliveryStatus.FAILED:
            return Outcome.FAILED
        case DeliveryStatus.PENDING:
            return Outcome.RETRYING


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass


async def _first_done(tasks: set[asyncio.Task[Outcome]], stop: asyncio.Event) -> None:
    """Wait until one of ``tasks`` is done, or ``stop`` is set."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({*tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
