"""Sending webhooks to the service as a provider does: signed with the official library.

``WebhookService`` is the service as a sender reaches it (its HTTP client), with the
container behind it, so a test can place an order, notify its payment, and
look at the order and the inbox afterwards.
"""

import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from standardwebhooks import Webhook

from {{ cookiecutter.package_name }}.container import Container
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine
from {{ cookiecutter.package_name }}.settings import Settings

PAYMENTS = "payments"
PAYMENTS_PATH = "/v1/webhooks/payments"


def new_secret(size: int = 32) -> str:
    """A fresh Standard Webhooks secret, as a provider issues one."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(size)).decode()


def payment(order_id: UUID | str, event_type: str = "payment.succeeded") -> bytes:
    """A payment notification's body."""
    return json.dumps({"type": event_type, "data": {"order_id": str(order_id)}}).encode()


def signed(
    secret: str,
    body: bytes,
    *,
    message_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed by the reference library."""
    message_id = message_id or f"msg_{uuid4().hex}"
    timestamp = timestamp or datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, timestamp, body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


@dataclass(frozen=True, slots=True)
class WebhookService:
    """The service, as a webhook sender reaches it."""

    http: httpx.AsyncClient
    container: Container

    async def post(
        self, body: bytes | AsyncIterator[bytes], headers: dict[str, str], path: str = PAYMENTS_PATH
    ) -> httpx.Response:
        """POST ``body`` with ``headers`` to the webhook endpoint."""
        return await self.http.post(path, content=body, headers=headers)

    async def place_order(self, customer_id: str = "webhook-customer") -> Order:
        """A pending order to notify payments of."""
        new = NewOrder(customer_id, "EUR", (OrderLine("SKU-1", 1, 100),))
        return (await self.container.orders.create(new)).order

    async def order(self, order_id: UUID) -> Order:
        """The order as stored now."""
        return await self.container.orders.get(order_id)

    async def recorded(self, message_id: str, source: str = PAYMENTS) -> bool:
        """Whether the inbox holds ``message_id`` (asked in a unit of work that is rolled back)."""
        async with self.container.storage.unit_of_work() as uow:
            return not await uow.webhook_inbox.record(source, message_id, datetime.now(UTC))


# Opens the service with the given settings, as a webhook sender reaches it.
type OpenWebhookService = Callable[[Settings], AbstractAsyncContextManager[WebhookService]]


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log records in ``text``."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
