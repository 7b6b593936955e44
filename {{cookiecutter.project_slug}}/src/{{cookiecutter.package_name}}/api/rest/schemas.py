"""The wire shapes of the REST API (request bodies, responses, errors)."""

from datetime import UTC, datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from {{ cookiecutter.package_name }}.domain.orders import (
    CURRENCY_PATTERN,
    CUSTOMER_ID_PATTERN,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_UNIT_PRICE_MINOR,
    SKU_PATTERN,
    Order,
    OrderLine,
    OrderStatus,
)

Sku = Annotated[str, Field(min_length=1, max_length=MAX_SKU_LENGTH, pattern=SKU_PATTERN)]
CustomerId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_CUSTOMER_ID_LENGTH,
        pattern=CUSTOMER_ID_PATTERN,
        description="The customer's own identifier: printable text.",
    ),
]


class RequestBody(BaseModel):
    """A request body: a field the API does not know is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class MergePatch(RequestBody):
    """A JSON Merge Patch body: send only what changes, and something."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("Send at least one field to change.")
        return self


class OrderLineIn(RequestBody):
    """A line as a caller sends it."""

    sku: Sku
    # Strict: JSON's true and 1.5 are not quantities (lax pydantic reads them as 1).
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)
    unit_price_minor: int = Field(
        ge=0, le=MAX_UNIT_PRICE_MINOR, strict=True, description="Price in minor units."
    )

    def to_domain(self) -> OrderLine:
        """The domain value."""
        return OrderLine(self.sku, self.quantity, self.unit_price_minor)


class OrderCreate(RequestBody):
    """Body of ``POST /v1/orders``."""

    customer_id: CustomerId
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217 code.")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)


class OrderPatch(MergePatch):
    """Body of ``PATCH /v1/orders/{id}`` (JSON Merge Patch): send only what changes."""

    status: OrderStatus | None = None
    lines: list[OrderLineIn] | None = Field(default=None, min_length=1, max_length=MAX_LINES)


class OrderLineOut(BaseModel):
    """A stored line."""

    sku: str
    quantity: int
    unit_price_minor: int
    amount_minor: int


class OrderOut(BaseModel):
    """An order as the API returns it; timestamps are ISO 8601 in UTC."""

    id: UUID
    customer_id: str
    currency: str
    lines: list[OrderLineOut]
    total_minor: int
    status: OrderStatus
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int

    @classmethod
    def of(cls, order: Order) -> Self:
        """Render a domain order."""
        return cls(
            id=order.id,
            customer_id=order.customer_id,
            currency=order.currency,
            lines=[
                OrderLineOut(
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price_minor=line.unit_price_minor,
                    amount_minor=line.amount_minor,
                )
                for line in order.lines
            ],
            total_minor=order.total_minor,
            status=order.status,
            created_at=_utc(order.created_at),
            updated_at=_utc(order.updated_at),
            version=order.version,
        )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class OffsetPagination(BaseModel):
    """Where an offset page sits in the whole result."""

    limit: int
    offset: int
    total: int
    next: str | None = Field(description="URL of the next page; null on the last page.")


class CursorPagination(BaseModel):
    """How to fetch the page after a cursor page."""

    limit: int
    next_cursor: str | None
    next: str | None = Field(description="URL of the next page; null on the last page.")


class OrderPage(BaseModel):
    """One page of orders."""

    data: list[OrderOut]
    pagination: OffsetPagination | CursorPagination


class ErrorDetail(BaseModel):
    """What is wrong with one field."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """A stable machine ``code``, a human ``message`` and per-field ``details``."""

    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorEnvelope(BaseModel):
    """The one shape of every error response."""

    error: ErrorBody


class Health(BaseModel):
    """Result of a liveness or readiness probe."""

    status: str
    checks: dict[str, str] = {}
