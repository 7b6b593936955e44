"""``POST /v1/webhooks/{source}``: webhooks from the configured senders, verified first.

One endpoint for both APIs: the REST app answers it on its own port, a gRPC
server on its HTTP side port. The signature is the sender's authentication,
so the caller guard does not apply: no credentials, and no per-address rate
limit (a provider sends its bursts, and its retries, from a few addresses; a
refusal costs one bounded read and an HMAC, and touches no database).

The body is read raw, up to the source's cap, and verified before it is
parsed; a refusal is answered in the error envelope and logged with its
reason, never with a secret or a signature. A verified message is handled
in one short unit of work, and acknowledged (2xx) whether it changed
something, was a redelivery, or was one the service does not act on.
"""

from collections.abc import Mapping

import structlog
from prometheus_client import Counter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from {{ cookiecutter.package_name }}.api.envelope import error_response, service_error_response
from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.domain.errors import ServiceError
from {{ cookiecutter.package_name }}.webhooks.sources import WebhookSource
from {{ cookiecutter.package_name }}.webhooks.verification.port import WebhookRejectedError

PATH = "/v1/webhooks/{source}"
REJECTED = "rejected"

WEBHOOKS_RECEIVED = Counter(
    "webhooks_received",
    "Webhooks received, by source and outcome: applied, duplicate, ignored (acknowledged); "
    "rejected (unverified), invalid (verified, unreadable), failed (to retry).",
    ["source", "outcome"],
)

log = structlog.get_logger(__name__)


class _TooLargeError(Exception):
    """The body is longer than the source accepts."""


async def _body(request: Request, limit: int) -> bytes:
    """The raw body, read until it passes ``limit`` bytes (then :class:`_TooLargeError`)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_webhook(
    request: Request, sources: Mapping[str, WebhookSource], clock: Clock = utc_now
) -> Response:
    """Verify the message of ``request`` and hand it to its source's handler."""
    source = sources.get(request.path_params["source"])
    if source is None:
        return error_response(404, "not_found", "No webhook source has this name.")
    try:
        return await _receive(request, source, clock)
    except Exception:
        log.exception("unhandled_error", method=request.method, path=request.url.path)
        return error_response(500, "internal_error", "An unexpected error occurred.")


async def _receive(request: Request, source: WebhookSource, clock: Clock) -> Response:
    message_id = None
    try:
        body = await _body(request, source.max_body_bytes)
        message = source.scheme.verify(request.headers, body, clock())
        message_id = message.message_id
        handled = await source.handler.handle(source.name, message_id, message.payload)
    except _TooLargeError:
        reason = f"the body is over {source.max_body_bytes} bytes"
        return _refused(source.name, None, reason, 413, "payload_too_large")
    except WebhookRejectedError as rejected:
        return _refused(source.name, rejected.message_id, rejected.reason, 400, "webhook_rejected")
    except ClientDisconnect:
        log.info("webhook_abandoned", source=source.name)  # the sender hung up; it will retry
        return error_response(400, "malformed_request", "The request body did not arrive whole.")
    except ServiceError as error:
        response = service_error_response(error)
        outcome = "invalid" if response.status_code in {400, 422} else "failed"
        WEBHOOKS_RECEIVED.labels(source.name, outcome).inc()
        log.warning(
            "webhook_not_handled", source=source.name, message_id=message_id, code=error.code
        )
        return response
    WEBHOOKS_RECEIVED.labels(source.name, handled.outcome.value).inc()
    log.info(
        "webhook_received",
        source=source.name,
        message_id=message_id,
        outcome=handled.outcome.value,
        reason=handled.reason,
    )
    return JSONResponse({"outcome": handled.outcome.value})


def _refused(source: str, message_id: str | None, reason: str, status: int, code: str) -> Response:
    """Count and log a message that failed verification, and answer why."""
    WEBHOOKS_RECEIVED.labels(source, REJECTED).inc()
    log.warning("webhook_rejected", source=source, reason=reason, message_id=message_id)
    return error_response(status, code, f"The webhook was refused: {reason}.")


def webhook_route(sources: Mapping[str, WebhookSource]) -> Route:
    """The webhook endpoint as a Starlette route, for an app of plain Starlette."""

    async def endpoint(request: Request) -> Response:
        return await receive_webhook(request, sources)

    return Route(PATH, endpoint, methods=["POST"])
