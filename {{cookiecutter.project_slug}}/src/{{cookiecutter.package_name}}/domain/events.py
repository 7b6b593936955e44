"""What happened to an order, as other systems hear of it.

Events are facts in the past tense. ``version`` is the order's version after
the change, so events of one order sort by it and a consumer can tell a stale
or duplicated one from a new one.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Self
from uuid import UUID, uuid4

from {{ cookiecutter.package_name }}.domain.orders import Order, to_stored_precision


class OrderEventType(StrEnum):
    """The versioned kinds of order event; a breaking change gets a new version."""

    CREATED = "order.created.v1"
    UPDATED = "order.updated.v1"
    DELETED = "order.deleted.v1"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One change of one order."""

    id: UUID
    type: OrderEventType
    order_id: UUID
    version: int
    occurred_at: datetime
    data: dict[str, Any]

    @classmethod
    def created(cls, order: Order) -> Self:
        """The order was placed; ``data`` is the whole order."""
        return cls._about(order, OrderEventType.CREATED, order.created_at)

    @classmethod
    def updated(cls, order: Order) -> Self:
        """The order changed; ``data`` is the whole order as it is now."""
        return cls._about(order, OrderEventType.UPDATED, order.updated_at)

    @classmethod
    def deleted(cls, order: Order, now: datetime) -> Self:
        """The order was deleted at ``order.version``; the event carries the next version."""
        return cls(
            id=uuid4(),
            type=OrderEventType.DELETED,
            order_id=order.id,
            version=order.version + 1,
            occurred_at=to_stored_precision(now),
            data={"id": str(order.id), "customer_id": order.customer_id},
        )

    @classmethod
    def _about(cls, order: Order, event_type: OrderEventType, at: datetime) -> Self:
        return cls(
            id=uuid4(),
            type=event_type,
            order_id=order.id,
            version=order.version,
            occurred_at=at,
            data=order.snapshot(),
        )
