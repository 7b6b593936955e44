"""Wire messages to domain values and back, with the constraints the REST API enforces.

Invalid input is collected field by field (paths as in the request, such as
``order.lines[0].sku``) and raised once as a validation error.
"""

import re
from collections.abc import Sequence
from uuid import UUID

from {{ cookiecutter.package_name }}.application.etags import etag, version_of
from {{ cookiecutter.package_name }}.application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, ValidationFailedError
from {{ cookiecutter.package_name }}.domain.orders import (
    CURRENCY_PATTERN,
    CUSTOMER_ID_PATTERN,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_UNIT_PRICE_MINOR,
    SKU_PATTERN,
    NewOrder,
    Order,
    OrderChanges,
    OrderLine,
    OrderStatus,
)
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.storage.port import OrderFilter

UPDATABLE_FIELDS = ("status", "lines")

_SKU = re.compile(SKU_PATTERN)
_CURRENCY = re.compile(CURRENCY_PATTERN)
_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)

STATUS_TO_WIRE: dict[OrderStatus, orders_pb2.OrderStatus.ValueType] = {
    OrderStatus.PENDING: orders_pb2.ORDER_STATUS_PENDING,
    OrderStatus.CONFIRMED: orders_pb2.ORDER_STATUS_CONFIRMED,
    OrderStatus.SHIPPED: orders_pb2.ORDER_STATUS_SHIPPED,
    OrderStatus.CANCELLED: orders_pb2.ORDER_STATUS_CANCELLED,
}
STATUS_FROM_WIRE = {wire: status for status, wire in STATUS_TO_WIRE.items()}


def versions_matching(tag: str) -> frozenset[int] | None:
    """The versions an etag accepts: ``None`` (any) when empty; none for a foreign tag."""
    if not tag:
        return None
    version = version_of(tag)
    return frozenset() if version is None else frozenset({version})


def order_message(order: Order) -> orders_pb2.Order:
    """The wire form of an order."""
    message = orders_pb2.Order(
        id=str(order.id),
        customer_id=order.customer_id,
        currency=order.currency,
        lines=[
            orders_pb2.OrderLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                amount_minor=line.amount_minor,
            )
            for line in order.lines
        ],
        total_minor=order.total_minor,
        status=STATUS_TO_WIRE[order.status],
        version=order.version,
        etag=etag(order.version),
    )
    message.create_time.FromDatetime(order.created_at)
    message.update_time.FromDatetime(order.updated_at)
    return message


class _Violations:
    """Field violations found so far; :meth:`raise_any` raises them all at once."""

    def __init__(self) -> None:
        self.found: list[FieldViolation] = []

    def check(self, holds: bool, field: str, message: str) -> None:
        if not holds:
            self.found.append(FieldViolation(field, message))

    def raise_any(self) -> None:
        if self.found:
            raise ValidationFailedError(*self.found)


def _lines(
    lines: Sequence[orders_pb2.OrderLine], field: str, violations: _Violations
) -> tuple[OrderLine, ...]:
    violations.check(1 <= len(lines) <= MAX_LINES, field, f"Send 1 to {MAX_LINES} lines.")
    for index, line in enumerate(lines):
        path = f"{field}[{index}]"
        violations.check(
            len(line.sku) <= MAX_SKU_LENGTH and _SKU.fullmatch(line.sku) is not None,
            f"{path}.sku",
            f"Use 1 to {MAX_SKU_LENGTH} letters, digits, '.', '_' or '-', starting with a"
            " letter or digit.",
        )
        violations.check(
            1 <= line.quantity <= MAX_QUANTITY, f"{path}.quantity", f"Use 1 to {MAX_QUANTITY}."
        )
        violations.check(
            0 <= line.unit_price_minor <= MAX_UNIT_PRICE_MINOR,
            f"{path}.unit_price_minor",
            f"Use 0 to {MAX_UNIT_PRICE_MINOR} minor units.",
        )
    return tuple(OrderLine(line.sku, line.quantity, line.unit_price_minor) for line in lines)


def _customer_id(value: str, field: str, violations: _Violations) -> None:
    violations.check(
        len(value) <= MAX_CUSTOMER_ID_LENGTH and _CUSTOMER_ID.fullmatch(value) is not None,
        field,
        f"Use 1 to {MAX_CUSTOMER_ID_LENGTH} printable characters.",
    )


def new_order(message: orders_pb2.Order) -> NewOrder:
    """What a CreateOrder request asks for, validated."""
    violations = _Violations()
    _customer_id(message.customer_id, "order.customer_id", violations)
    violations.check(
        _CURRENCY.fullmatch(message.currency) is not None,
        "order.currency",
        "Use an ISO 4217 code, such as EUR.",
    )
    lines = _lines(message.lines, "order.lines", violations)
    violations.raise_any()
    return NewOrder(customer_id=message.customer_id, currency=message.currency, lines=lines)


def order_id(value: str, field: str = "id") -> UUID:
    """An order id from the wire."""
    try:
        return UUID(value)
    except ValueError:
        raise ValidationFailedError(FieldViolation(field, "Send the order's id, a UUID.")) from None


def _status(
    value: orders_pb2.OrderStatus.ValueType, field: str, violations: _Violations
) -> OrderStatus | None:
    status = STATUS_FROM_WIRE.get(value)
    violations.check(status is not None, field, "Send one of the statuses the API defines.")
    return status


def order_changes(
    request: orders_pb2.UpdateOrderRequest,
) -> tuple[UUID, OrderChanges, frozenset[int] | None]:
    """The order to change, the changes its field mask selects, and the versions it accepts."""
    order = request.order
    identifier = order_id(order.id, "order.id")
    paths = list(request.update_mask.paths)
    if paths == ["*"]:
        paths = list(UPDATABLE_FIELDS)
    elif not paths:
        paths = [
            name
            for name, present in (
                ("status", order.status != orders_pb2.ORDER_STATUS_UNSPECIFIED),
                ("lines", len(order.lines) > 0),
            )
            if present
        ]
    violations = _Violations()
    unknown = sorted(set(paths) - set(UPDATABLE_FIELDS))
    violations.check(
        not unknown, "update_mask", f"Only status and lines can change, not {', '.join(unknown)}."
    )
    violations.check(bool(paths), "update_mask", "Name at least one field to change.")
    status = _status(order.status, "order.status", violations) if "status" in paths else None
    lines = _lines(order.lines, "order.lines", violations) if "lines" in paths else None
    violations.raise_any()
    return identifier, OrderChanges(status=status, lines=lines), versions_matching(order.etag)


def page_size(value: int) -> int:
    """AIP-158: 0 means the default, and anything above the maximum is the maximum."""
    if value < 0:
        raise ValidationFailedError(
            FieldViolation("page_size", f"Send 0 (for {DEFAULT_PAGE_SIZE}) to {MAX_PAGE_SIZE}.")
        )
    return min(value, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE


def order_filter(request: orders_pb2.ListOrdersRequest) -> OrderFilter:
    """Which orders a ListOrders request selects."""
    violations = _Violations()
    status = None
    if request.status != orders_pb2.ORDER_STATUS_UNSPECIFIED:
        status = _status(request.status, "status", violations)
    if request.customer_id:
        _customer_id(request.customer_id, "customer_id", violations)
    violations.raise_any()
    return OrderFilter(status=status, customer_id=request.customer_id or None)
