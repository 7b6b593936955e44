"""Request context: a request id on every log line and response, one log and metric per request.

A pure ASGI middleware (no ``BaseHTTPMiddleware``), so it adds no task or
memory stream per request. It is also the first and last line of defence: a
request whose headers or target are too large is refused before anything reads
them, and an exception that nothing handled is logged once, with the request
id, and becomes a 500 envelope that leaks nothing.
"""

import re
import time
from uuid import uuid4

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.api.envelope import error_response
from {{ cookiecutter.package_name }}.api.rest.metrics import HTTP_LATENCY, HTTP_REQUESTS
from {{ cookiecutter.package_name }}.observability.tracing import TRACE_HEADERS, continued_trace, log_fields

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The HTTP parser has read them already, but no more of the service will: headers
# beyond 16 KiB in all (what h11 and Node accept) and a target beyond 8 KiB are
# refused before the authenticator, the handlers or a log line see them.
MAX_HEADER_BYTES = 16 * 1024
MAX_TARGET_BYTES = 8 * 1024
# A path is logged cut to this many characters: the caller chose it.
LOGGED_PATH_LENGTH = 200

log = structlog.get_logger(__name__)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SAFE_REQUEST_ID.fullmatch(candidate) else None
    return None


_TRACE_HEADER_NAMES = frozenset(name.encode() for name in TRACE_HEADERS)


def _incoming_trace(scope: Scope) -> dict[str, str]:
    return {
        name.decode(): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in _TRACE_HEADER_NAMES
    }


def _oversized(scope: Scope) -> tuple[int, str, str] | None:
    """Status, code and message refusing a request too large to read, or ``None``."""
    target = scope.get("raw_path") or scope["path"].encode()
    if len(target) + len(scope["query_string"]) > MAX_TARGET_BYTES:
        return 414, "uri_too_long", f"The request target exceeds {MAX_TARGET_BYTES} bytes."
    if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
        message = f"The request headers exceed {MAX_HEADER_BYTES} bytes."
        return 431, "request_header_fields_too_large", message
    return None


def _logged_path(scope: Scope) -> str:
    path: str = scope["path"]
    return path if len(path) <= LOGGED_PATH_LENGTH else f"{path[:LOGGED_PATH_LENGTH]}..."


class RequestContextMiddleware:
    """Bind the request id and trace, echo the id back, log the outcome, contain crashes."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid4().hex
        refusal = _oversized(scope)
        handler: ASGIApp = self.app if refusal is None else error_response(*refusal)
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        began = time.perf_counter()
        trace = _incoming_trace(scope)
        with (
            continued_trace(trace),
            structlog.contextvars.bound_contextvars(request_id=request_id, **log_fields(trace)),
        ):
            try:
                await handler(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled_error", method=scope["method"], path=_logged_path(scope))
                if started:
                    raise
                response = error_response(500, "internal_error", "An unexpected error occurred.")
                await response(scope, receive, send_with_id)
            finally:
                self._observe(scope, status, time.perf_counter() - began)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        route = getattr(scope.get("route"), "path", "unmatched")
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(seconds)
        if self.log_requests:
            log.info(
                "request",
                method=method,
                path=_logged_path(scope),
                status=status,
                duration_ms=round(seconds * 1000, 2),
            )
