"""The one way this service calls another over HTTP: bounded in time, connections and retries.

Each downstream gets a :class:`DownstreamClient` with its own settings:

- timeouts for connecting, reading, writing and waiting for a pooled
  connection, and a deadline for the whole call that no retry outlasts;
- a bulkhead: at most ``max_connections`` requests in flight; a request that
  finds none free within the pool timeout fails at once
  (:class:`BulkheadFullError`), so one slow downstream cannot hold every task;
- retries (stamina, full jitter) of what is safe to repeat: idempotent methods
  and requests that carry an ``Idempotency-Key``, after a timeout, a lost
  connection, or a 408, 425, 429, 500, 502, 503 or 504. A ``Retry-After`` is
  waited for when it is within ``retry_after_max_seconds``; a longer one ends
  the call, and its error carries the delay, so a worker comes back when asked
  instead of holding a task that long. Other 4xx are answers: they are
  returned, never retried;
- a circuit breaker that refuses calls at once while the downstream is
  failing (:class:`CircuitOpenError`). A client that calls many downstreams
  of one kind (webhook endpoints) shares its connections and bulkhead between
  them, and each call names its own circuit;
- optionally, a cap on what is read of a response (``max_response_bytes``):
  past it the rest is dropped with the connection, so a downstream cannot make
  the service read without end.

The caller gets a response (2xx, 3xx, or a 4xx to interpret), or a
:class:`DownstreamUnavailableError` that says "try later" (an
:class:`UnavailableAnswerError` keeps the answer that said so).
"""

import asyncio
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Self

import httpx2
import structlog

from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.state import Admission
from {{ cookiecutter.package_name }}.resilience.errors import (
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceededError,
    DownstreamUnavailableError,
    UnavailableAnswerError,
)
from {{ cookiecutter.package_name }}.resilience.metrics import (
    DOWNSTREAM_ATTEMPTS,
    DOWNSTREAM_CALL_SECONDS,
    DOWNSTREAM_CALLS,
    DOWNSTREAM_RETRIES,
)
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy, RetryVerdict
from {{ cookiecutter.package_name }}.settings import DownstreamSettings

log = structlog.get_logger(__name__)

IDEMPOTENCY_KEY = "Idempotency-Key"
# What a capped read asks for: the cap then bounds the bytes received, not a decompressed size.
_IDENTITY = {"Accept-Encoding": "identity"}
# Headers that describe the body as it came, not the (possibly cut) body a capped read keeps.
_BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Answers that may be different next time: timeouts, "too early", "too many", and server trouble.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Answers that say the downstream is unwell; a 429 or 425 says it is busy with us, not broken.
_REQUEST_TIMEOUT = 408
_SERVER_ERRORS = range(500, 600)


class _RetryableStatusError(Exception):
    """A response worth asking again for, raised so that the retry loop sees it."""

    def __init__(self, response: httpx2.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after


def retry_after_seconds(response: httpx2.Response) -> float | None:
    """The response's ``Retry-After`` in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def is_retryable(method: str, headers: Mapping[str, str]) -> bool:
    """Whether sending the request twice is safe: an idempotent method, or an idempotency key."""
    return method.upper() in IDEMPOTENT_METHODS or any(
        name.lower() == IDEMPOTENCY_KEY.lower() for name in headers
    )


def _unwell(status_code: int) -> bool:
    return status_code == _REQUEST_TIMEOUT or status_code in _SERVER_ERRORS


class DownstreamClient:
    """Calls to one downstream, under its settings and its circuit breaker.

    ``breaker`` guards every call that names no circuit of its own; a client
    without one (``None``) serves many downstreams, and each call must name one.
    """

    def __init__(
        self,
        name: str,
        settings: DownstreamSettings,
        breaker: CircuitBreaker | None,
        *,
        base_url: str = "",
        auth: httpx2.Auth | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        self.name = name
        self._settings = settings
        self._breaker = breaker
        self._max_response_bytes = max_response_bytes
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._http = httpx2.AsyncClient(
            base_url=base_url,
            auth=auth,
            transport=transport,
            follow_redirects=False,
            timeout=httpx2.Timeout(
                connect=settings.connect_timeout_seconds,
                read=settings.read_timeout_seconds,
                write=settings.write_timeout_seconds,
                pool=settings.pool_timeout_seconds,
            ),
            limits=httpx2.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
        )

    @classmethod
    def for_downstream(
        cls,
        name: str,
        settings: DownstreamSettings,
        breakers: BreakerStore,
        *,
        base_url: str = "",
        auth: httpx2.Auth | None = None,
    ) -> Self:
        """A client of downstream ``name``, its circuit kept in ``breakers``."""
        breaker = CircuitBreaker.for_downstream(name, settings, breakers)
        return cls(name, settings, breaker, base_url=base_url, auth=auth)

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> httpx2.Response:
        """GET ``url`` (retried: GET is idempotent)."""
        return await self.request("GET", url, headers=headers, breaker=breaker)

    async def post(
        self,
        url: str,
        *,
        json: object = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> httpx2.Response:
        """POST to ``url``; retried only with an ``idempotency_key``."""
        return await self.request(
            "POST",
            url,
            json=json,
            data=data,
            content=content,
            headers=headers,
            idempotency_key=idempotency_key,
            breaker=breaker,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: object = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> httpx2.Response:
        """Send the request under the deadline, retrying what is safe to retry.

        ``breaker`` is the circuit of this call's downstream, if not the client's own.
        """
        circuit = breaker or self._breaker
        if circuit is None:
            message = f"a call through the {self.name} client must name its circuit breaker"
            raise TypeError(message)
        all_headers = dict(_IDENTITY if self._max_response_bytes is not None else {})
        all_headers.update(headers or {})
        if idempotency_key is not None:
            all_headers[IDEMPOTENCY_KEY] = idempotency_key
        request = self._http.build_request(
            method, url, json=json, data=data, content=content, headers=all_headers
        )
        began = time.monotonic()
        try:
            response = await self._call(
                request, circuit, retryable=is_retryable(method, all_headers)
            )
        finally:
            DOWNSTREAM_CALL_SECONDS.labels(self.name).observe(time.monotonic() - began)
        DOWNSTREAM_CALLS.labels(self.name, "success" if response.is_success else "rejected").inc()
        return response

    async def _call(
        self, request: httpx2.Request, breaker: CircuitBreaker, *, retryable: bool
    ) -> httpx2.Response:
        settings = self._settings
        policy = RetryPolicy(
            attempts=settings.retry_attempts if retryable else 1,
            wait_initial_seconds=settings.retry_wait_initial_seconds,
            wait_max_seconds=settings.retry_wait_max_seconds,
            timeout_seconds=settings.deadline_seconds,
        )
        deadline = time.monotonic() + settings.deadline_seconds
        attempts = policy.attempts_for(
            self._verdict, downstream=self.name, method=request.method, path=request.url.path
        )
        try:
            async for attempt in attempts:
                with attempt:
                    if attempt.num > 1:
                        DOWNSTREAM_RETRIES.labels(self.name).inc()
                    return await self._attempt(request, breaker, deadline)
        except _RetryableStatusError as answer:
            DOWNSTREAM_CALLS.labels(self.name, "unavailable").inc()
            raise UnavailableAnswerError(
                self.name,
                answer.response.status_code,
                answer.response.content,
                retry_after_seconds=answer.retry_after,
            ) from None
        except DownstreamUnavailableError as error:
            DOWNSTREAM_CALLS.labels(self.name, _outcome(error)).inc()
            raise
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _verdict(self, error: Exception) -> RetryVerdict:
        """Whether (and after how long, at least) the failed attempt may be tried again."""
        if isinstance(error, CircuitOpenError | BulkheadFullError):
            return False
        if isinstance(error, _RetryableStatusError):
            if error.retry_after is None:
                return True
            return error.retry_after <= self._settings.retry_after_max_seconds and error.retry_after
        return isinstance(error, DownstreamUnavailableError) and not isinstance(
            error, DeadlineExceededError
        )

    async def _attempt(
        self, request: httpx2.Request, breaker: CircuitBreaker, deadline: float
    ) -> httpx2.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceededError(self.name)
        admission = await breaker.admit()
        try:
            async with asyncio.timeout(self._settings.pool_timeout_seconds):
                await self._slots.acquire()
        except TimeoutError:
            await breaker.abandoned(admission)
            raise BulkheadFullError(self.name, self._settings.max_connections) from None
        try:
            response = await self._send(request, breaker, admission, remaining)
        finally:
            self._slots.release()
        if response.status_code in RETRYABLE_STATUSES:
            raise _RetryableStatusError(response, retry_after_seconds(response))
        return response

    async def _send(
        self,
        request: httpx2.Request,
        breaker: CircuitBreaker,
        admission: Admission,
        remaining: float,
    ) -> httpx2.Response:
        try:
            async with asyncio.timeout(remaining):
                response = await self._receive(request)
        except TimeoutError:
            DOWNSTREAM_ATTEMPTS.labels(self.name, "timeout").inc()
            await breaker.failed(admission)
            raise DeadlineExceededError(self.name) from None
        except httpx2.TimeoutException as error:
            DOWNSTREAM_ATTEMPTS.labels(self.name, "timeout").inc()
            await breaker.failed(admission)
            raise DownstreamUnavailableError(self.name, f"timed out: {error!r}") from None
        except httpx2.TransportError as error:
            DOWNSTREAM_ATTEMPTS.labels(self.name, "connection_error").inc()
            await breaker.failed(admission)
            raise DownstreamUnavailableError(
                self.name, f"{type(error).__name__}: {error}"
            ) from None
        DOWNSTREAM_ATTEMPTS.labels(self.name, f"{response.status_code // 100}xx").inc()
        if _unwell(response.status_code):
            await breaker.failed(admission)
        else:
            await breaker.succeeded(admission)
        return response

    async def _receive(self, request: httpx2.Request) -> httpx2.Response:
        """The response, its body read whole, or up to ``max_response_bytes`` (the rest dropped)."""
        limit = self._max_response_bytes
        if limit is None:
            return await self._http.send(request)
        response = await self._http.send(request, stream=True)
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > limit:
                    break  # closing an unread response closes its connection
        finally:
            await response.aclose()
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _BODY_FRAMING
        ]
        return httpx2.Response(
            response.status_code, headers=headers, content=bytes(body[:limit]), request=request
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()


def _outcome(error: DownstreamUnavailableError) -> str:
    if isinstance(error, CircuitOpenError):
        return "circuit_open"
    if isinstance(error, BulkheadFullError):
        return "bulkhead_full"
    if isinstance(error, DeadlineExceededError):
        return "deadline_exceeded"
    return "unavailable"
