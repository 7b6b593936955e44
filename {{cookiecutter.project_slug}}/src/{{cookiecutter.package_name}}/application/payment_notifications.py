"""The payment provider's notifications: a paid order is confirmed, an unpaid one cancelled.

The changes go through the orders use case, so they follow the order's
lifecycle and announce themselves (outbox, webhook deliveries) like any other
change, in the unit of work that records the message. A notification the
service cannot act on (an unknown order, an order that can no longer make the
change, an event type it does not handle) is acknowledged and logged: the
provider would otherwise retry it for days to the same end.
"""

from collections.abc import Mapping
from contextlib import suppress
from typing import Any
from uuid import UUID

from {{ cookiecutter.package_name }}.application.inbound_webhooks import Handled, Outcome, ReceivedWebhooks
from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.domain.errors import (
    FieldViolation,
    InvalidStateTransitionError,
    NotFoundError,
    ValidationFailedError,
)
from {{ cookiecutter.package_name }}.domain.orders import OrderChanges, OrderStatus

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
# What each payment outcome makes of its order.
ORDER_STATUS_AFTER: dict[str, OrderStatus] = {
    PAYMENT_SUCCEEDED: OrderStatus.CONFIRMED,
    PAYMENT_FAILED: OrderStatus.CANCELLED,
}
_MAX_TYPE_IN_REASON = 64


def _order_id(payload: Mapping[str, Any]) -> UUID:
    """``data.order_id`` of a payment notification."""
    data = payload.get("data")
    order_id = data.get("order_id") if isinstance(data, Mapping) else None
    if isinstance(order_id, str):
        with suppress(ValueError):
            return UUID(order_id)
    raise ValidationFailedError(FieldViolation("data.order_id", "Send the order's id, a UUID."))


class PaymentNotifications:
    """Confirms or cancels orders as their payments succeed or fail."""

    def __init__(self, orders: OrderService, received: ReceivedWebhooks) -> None:
        self._orders = orders
        self._received = received

    async def handle(self, source: str, message_id: str, payload: Mapping[str, Any]) -> Handled:
        """Apply the notification to its order, once."""
        event_type = payload.get("type")
        if not isinstance(event_type, str):
            raise ValidationFailedError(FieldViolation("type", "Send the event type, a string."))
        status = ORDER_STATUS_AFTER.get(event_type)
        if status is None:
            reason = f"the event type {event_type[:_MAX_TYPE_IN_REASON]!r} is not handled"
            return await self._ignored(source, message_id, reason)
        order_id = _order_id(payload)
        claim = self._received.claim(source, message_id)
        try:
            order = await self._orders.update_once(order_id, OrderChanges(status=status), claim)
        except (NotFoundError, InvalidStateTransitionError) as refused:
            return await self._ignored(source, message_id, refused.message)
        return Handled(Outcome.APPLIED if order is not None else Outcome.DUPLICATE)

    async def _ignored(self, source: str, message_id: str, reason: str) -> Handled:
        if not await self._received.record(source, message_id):
            return Handled(Outcome.DUPLICATE)
        return Handled(Outcome.IGNORED, reason)
