"""``POST /v1/webhooks/{source}`` on the REST app: the shared endpoint, documented.

The body and the signature headers are described here but read by the endpoint
itself (``api.inbound_webhooks``): the raw bytes must be verified before
anything parses them, so FastAPI validates none of them.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.api import inbound_webhooks
from {{ cookiecutter.package_name }}.api.rest.dependencies import Services
from {{ cookiecutter.package_name }}.api.rest.schemas import ErrorEnvelope
from {{ cookiecutter.package_name }}.application.payment_notifications import ORDER_STATUS_AFTER

router = APIRouter(tags=["webhooks"])


class WebhookReceipt(BaseModel):
    """The message was received: its effect is in place, it was a redelivery, or it needs none."""

    outcome: Literal["applied", "duplicate", "ignored"]


_HEADERS = (
    ("webhook-id", "The message's id, the same on every delivery of it."),
    ("webhook-timestamp", "When it was signed, in unix seconds; refused past the tolerance."),
    ("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256>`, one per secret."),
)

# The payments source's messages (Standard Webhooks); another source sends its own.
_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": text,
        }
        for name, text in _HEADERS
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "description": "Other types are acknowledged and ignored.",
                            "examples": sorted(ORDER_STATUS_AFTER),
                        },
                        "data": {
                            "type": "object",
                            "required": ["order_id"],
                            "properties": {"order_id": {"type": "string", "format": "uuid"}},
                        },
                    },
                }
            }
        },
    },
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in {
        400: "Refused: a missing or wrong signature, a stale timestamp, a body that is not JSON",
        404: "No source has this name",
        409: "The order kept changing under the message; the sender should retry",
        413: "The body is over the source's size cap",
        422: "Verified, but the payload lacks what the source's messages carry",
        500: "Unexpected error",
        503: "A dependency is unavailable; the sender should retry",
    }.items()
}

Source = Annotated[str, Path(description="The sender, as configured: `payments`.")]


@router.post(
    inbound_webhooks.PATH,
    response_model=WebhookReceipt,
    response_description="Received: its effect is in place, it was a redelivery, or it needs none",
    responses=_RESPONSES,
    openapi_extra=_OPENAPI,
)
async def receive_webhook(source: Source, request: Request, services: Services) -> Response:
    """Receive a signed webhook from a configured sender (Standard Webhooks for `payments`).

    `payment.succeeded` confirms the order `data.order_id`, `payment.failed`
    cancels it. Acknowledged (200) whether it changed the order, repeated a
    message already received, or asks for what the order can no longer do.
    """
    del source  # the endpoint reads it from the path, as on a gRPC server's HTTP port
    return await inbound_webhooks.receive_webhook(request, services.webhook_sources)
