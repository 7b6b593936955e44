"""Per-call context: a request id on every log line, one log line and metric per call.

It is also where requests are decoded and errors leave the service: a message
that is not valid protobuf (a string that is not UTF-8, say) is INVALID_ARGUMENT,
a :class:`ServiceError` becomes its status with details, and anything unexpected
is logged once, with the request id, and becomes INTERNAL with a message that
leaks nothing.
"""

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast
from uuid import uuid4

import grpc
import structlog
from google.protobuf.message import DecodeError
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.errors import GRPC_STATUS, INTERNAL_ERROR, rich_status
from {{ cookiecutter.package_name }}.api.grpc.metrics import GRPC_HANDLED, GRPC_LATENCY
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError, ServiceError
from {{ cookiecutter.package_name }}.observability.tracing import TRACE_HEADERS, continued_trace, log_fields

REQUEST_ID_KEY = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

type Context = aio.ServicerContext[Any, Any]
type Behavior = Callable[[Any, Context], Awaitable[Any]]
type Decoder = Callable[[bytes], Any]
type Continuation = Callable[
    [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
]

log = structlog.get_logger(__name__)


def metadata_value(context: Context, key: str) -> str | None:
    """The first value of an ASCII metadata entry the caller sent, if any."""
    for entry_key, value in context.invocation_metadata() or ():
        if entry_key == key:
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def _request_id(context: Context) -> str:
    candidate = metadata_value(context, REQUEST_ID_KEY)
    if candidate is not None and _SAFE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid4().hex


def _decoded(decode: Decoder | None, raw: bytes) -> object:
    """The request message; grpcio would answer UNKNOWN with the parser's traceback instead."""
    if decode is None:
        return raw
    try:
        return decode(raw)
    except DecodeError:
        raise MalformedRequestError(
            "The request message could not be decoded.",
            FieldViolation("request", "Send the method's message in protobuf; strings in UTF-8."),
        ) from None


def _service_and_method(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


class RequestContextInterceptor(aio.ServerInterceptor):
    """Bind the request id, echo it back, map errors, log and measure every unary call."""

    def __init__(self, *, log_requests: bool = True) -> None:
        self.log_requests = log_requests

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> "grpc.RpcMethodHandler[Any, Any] | None":
        """Wrap unary-unary handlers; streaming ones (health Watch, reflection) pass as they are."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behavior = cast("Behavior", handler.unary_unary)
        decode: Decoder | None = handler.request_deserializer
        service, method = _service_and_method(handler_call_details.method)

        async def observed(raw: bytes, context: Context) -> object:
            return await self._call(
                lambda: behavior(_decoded(decode, raw), context), context, service, method
            )

        # The request reaches ``observed`` undecoded, so that decoding fails inside the call.
        return grpc.unary_unary_rpc_method_handler(
            observed, response_serializer=handler.response_serializer
        )

    async def _call(
        self, call: Callable[[], Awaitable[object]], context: Context, service: str, method: str
    ) -> object:
        request_id = _request_id(context)
        code = grpc.StatusCode.OK
        began = time.perf_counter()
        trace = {
            name: value
            for name in TRACE_HEADERS
            if (value := metadata_value(context, name)) is not None
        }
        with (
            continued_trace(trace),
            structlog.contextvars.bound_contextvars(request_id=request_id, **log_fields(trace)),
        ):
            try:
                response = await call()
                # Headers go out with the response only: a call that fails before
                # sending any stays retryable under the client's retry policy.
                await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
            except ServiceError as error:
                code = GRPC_STATUS[error.kind]
                await context.abort_with_status(rich_status(error, (REQUEST_ID_KEY, request_id)))
            except aio.AbortError:
                code = context.code()
                raise
            except asyncio.CancelledError:  # the caller cancelled, or the deadline passed
                remaining = context.time_remaining()
                expired = remaining is not None and remaining <= 0
                code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
                raise
            except Exception:
                log.exception("unhandled_error", service=service, method=method)
                code = grpc.StatusCode.INTERNAL
                await context.abort_with_status(
                    rich_status(INTERNAL_ERROR, (REQUEST_ID_KEY, request_id))
                )
            else:
                return response
            finally:
                self._observe(service, method, code, time.perf_counter() - began)

    def _observe(self, service: str, method: str, code: grpc.StatusCode, seconds: float) -> None:
        GRPC_HANDLED.labels(service, method, code.name).inc()
        GRPC_LATENCY.labels(service, method).observe(seconds)
        if self.log_requests:
            log.info(
                "rpc",
                service=service,
                method=method,
                code=code.name,
                duration_ms=round(seconds * 1000, 2),
            )
