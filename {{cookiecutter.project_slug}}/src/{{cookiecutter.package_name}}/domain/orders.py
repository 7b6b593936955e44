"""Orders: the aggregate, its lifecycle and the changes a caller may ask for."""

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Self
from uuid import UUID, uuid4

from {{ cookiecutter.package_name }}.domain.errors import InvalidStateTransitionError

# What an order accepts, whichever transport it arrives by.
MAX_LINES = 100
MAX_QUANTITY = 10_000
MAX_UNIT_PRICE_MINOR = 100_000_000
MAX_CUSTOMER_ID_LENGTH = 64
# No control character (C0, DEL, C1): NUL, for one, is refused by PostgreSQL's text.
CUSTOMER_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
MAX_SKU_LENGTH = 64
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def to_stored_precision(moment: datetime) -> datetime:
    """``moment`` to the millisecond: the precision every supported database keeps.

    PostgreSQL keeps microseconds, BSON dates keep milliseconds; an order holds
    only times that any of them stores and returns unchanged.
    """
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A quantity of one SKU at a unit price in minor currency units (cents)."""

    sku: str
    quantity: int
    unit_price_minor: int

    @property
    def amount_minor(self) -> int:
        """The line's total, in minor units."""
        return self.quantity * self.unit_price_minor

    def snapshot(self) -> dict[str, Any]:
        """The line as JSON-ready primitives; ``OrderLine(**snapshot)`` rebuilds it."""
        return {
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price_minor": self.unit_price_minor,
        }


@dataclass(frozen=True, slots=True)
class NewOrder:
    """What a caller supplies to place an order."""

    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]

    def fingerprint(self) -> str:
        """Digest of the request's meaning, to tell a replay from a key reused."""
        canonical = json.dumps(
            {
                "customer_id": self.customer_id,
                "currency": self.currency,
                "lines": [[line.sku, line.quantity, line.unit_price_minor] for line in self.lines],
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OrderChanges:
    """A partial update; ``None`` leaves a field as it is."""

    status: OrderStatus | None = None
    lines: tuple[OrderLine, ...] | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """The order aggregate. ``version`` grows by one with every stored change."""

    id: UUID
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def place(cls, new: NewOrder, now: datetime) -> Self:
        """Open a pending order."""
        now = to_stored_precision(now)
        return cls(
            id=uuid4(),
            customer_id=new.customer_id,
            currency=new.currency,
            lines=new.lines,
            status=OrderStatus.PENDING,
            created_at=now,
            updated_at=now,
            version=1,
        )

    @property
    def total_minor(self) -> int:
        """The order's total, in minor units."""
        return sum(line.amount_minor for line in self.lines)

    def apply(self, changes: OrderChanges, now: datetime) -> Self:
        """Return the order with ``changes`` applied, enforcing the lifecycle rules."""
        updated = self
        if changes.lines is not None:
            if self.status is not OrderStatus.PENDING:
                raise InvalidStateTransitionError(
                    f"Lines can change only while the order is pending, not {self.status}."
                )
            updated = replace(updated, lines=changes.lines)
        if changes.status is not None and changes.status is not self.status:
            if changes.status not in ALLOWED_TRANSITIONS[self.status]:
                raise InvalidStateTransitionError(
                    f"An order cannot go from {self.status} to {changes.status}."
                )
            updated = replace(updated, status=changes.status)
        if updated is self:
            return self
        return replace(updated, updated_at=to_stored_precision(now), version=self.version + 1)

    def snapshot(self) -> dict[str, Any]:
        """The order as JSON-ready primitives (stored replays, event payloads)."""
        return {
            "id": str(self.id),
            "customer_id": self.customer_id,
            "currency": self.currency,
            "lines": [line.snapshot() for line in self.lines],
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Self:
        """Rebuild an order from :meth:`snapshot` output."""
        return cls(
            id=UUID(data["id"]),
            customer_id=data["customer_id"],
            currency=data["currency"],
            lines=tuple(OrderLine(**line) for line in data["lines"]),
            status=OrderStatus(data["status"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            version=data["version"],
        )
