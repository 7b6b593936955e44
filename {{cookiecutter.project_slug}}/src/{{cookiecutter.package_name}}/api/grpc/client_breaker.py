"""A circuit breaker on a client channel: stop calling a server that keeps failing.

Each call asks the breaker first: while the circuit is open it fails at once
with :class:`CircuitOpenError` (its ``retry_after_seconds`` says when to come
back) and nothing is sent. A call that goes through reports its final status:

- UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN and DATA_LOSS say the
  server (or the way to it) is unwell: a failure;
- CANCELLED, or the caller cancelling, says nothing about the server: the call
  is abandoned (a half-open trial gives its place back);
- every other status is an answer from a healthy server: NOT_FOUND,
  INVALID_ARGUMENT, ABORTED and the like are about the request, UNIMPLEMENTED
  about the client's idea of the API, and RESOURCE_EXHAUSTED is the server
  rate-limiting us, as a 429 is over HTTP: opening the circuit would not help
  it, the caller backs off as its ``RetryInfo`` asks.

The interceptor sits above the channel's retries. The retry policy of the
service config is carried out inside the channel's call (gRPC core's retry
filter), below every interceptor, so the interceptor sees one call and the
status its last attempt ended with: one logical call is one outcome, however
many attempts the channel made.
"""

import asyncio
from collections.abc import Awaitable, Callable

import grpc
from grpc import aio

from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker

# Statuses that say the server is unwell (the others are answers, or, for CANCELLED, no verdict).
UNWELL = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
    }
)


class CircuitBreakerInterceptor(aio.UnaryUnaryClientInterceptor):
    """Every unary call through ``breaker``: refused at once while open, its outcome reported."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    async def intercept_unary_unary[RequestT, ResponseT](
        self,
        continuation: Callable[
            [aio.ClientCallDetails, RequestT], Awaitable[aio.UnaryUnaryCall[RequestT, ResponseT]]
        ],
        client_call_details: aio.ClientCallDetails,
        request: RequestT,
    ) -> ResponseT | aio.UnaryUnaryCall[RequestT, ResponseT]:
        """Admit the call, wait for its status, report it; the caller gets the call as it ended."""
        admission = await self.breaker.admit()
        try:
            call = await continuation(client_call_details, request)
            code = await _status_of(call)
        except (Exception, asyncio.CancelledError):
            await self.breaker.abandoned(admission)
            raise
        if code in UNWELL:
            await self.breaker.failed(admission)
        elif code is grpc.StatusCode.CANCELLED:
            await self.breaker.abandoned(admission)
        else:
            await self.breaker.succeeded(admission)
        return call


async def _status_of[RequestT, ResponseT](
    call: aio.UnaryUnaryCall[RequestT, ResponseT],
) -> grpc.StatusCode:
    """The status ``call`` ends with; awaiting the call itself passes a cancellation on to it."""
    try:
        await call
    except aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK
