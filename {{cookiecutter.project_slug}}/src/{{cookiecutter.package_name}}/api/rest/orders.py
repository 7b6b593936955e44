"""``/v1/orders``: create, read, list, change and delete orders."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from starlette.datastructures import URL

from {{ cookiecutter.package_name }}.api.rest.dependencies import Orders
from {{ cookiecutter.package_name }}.api.rest.errors import ERROR_RESPONSES
from {{ cookiecutter.package_name }}.api.rest.headers import (
    IDEMPOTENCY_KEY_SCHEMA,
    parse_idempotency_key,
    parse_if_match,
)
from {{ cookiecutter.package_name }}.api.rest.schemas import (
    CursorPagination,
    OffsetPagination,
    OrderCreate,
    OrderOut,
    OrderPage,
    OrderPatch,
)
from {{ cookiecutter.package_name }}.api.rest.security import allowed
from {{ cookiecutter.package_name }}.application.etags import etag
from {{ cookiecutter.package_name }}.application.orders import IdempotencyKey
from {{ cookiecutter.package_name }}.application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal
from {{ cookiecutter.package_name }}.domain.cursor import CURSOR_PATTERN, Cursor
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError
from {{ cookiecutter.package_name }}.domain.orders import (
    CUSTOMER_ID_PATTERN,
    MAX_CUSTOMER_ID_LENGTH,
    NewOrder,
    OrderChanges,
    OrderStatus,
)
from {{ cookiecutter.package_name }}.storage.port import OrderFilter

router = APIRouter(prefix="/v1/orders", tags=["orders"], responses=ERROR_RESPONSES)

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes the create safe to retry: a repeat returns the first result.",
        json_schema_extra=IDEMPOTENCY_KEY_SCHEMA,
    ),
]
IfMatchHeader = Annotated[
    str | None,
    Header(alias="If-Match", description="Apply only if the order's ETag is one of these."),
]


def _location(order_id: UUID) -> str:
    return f"{router.prefix}/{order_id}"


READ = [allowed(Permission.ORDERS_READ)]
WRITE = [allowed(Permission.ORDERS_WRITE)]
# The admitted caller; FastAPI runs the route's guard once, whether named here or in WRITE.
Writer = Annotated[Principal, WRITE[0]]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=WRITE)
async def create_order(
    body: OrderCreate,
    response: Response,
    orders: Orders,
    caller: Writer,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderOut:
    """Place an order; send an ``Idempotency-Key`` to make retries safe."""
    key = parse_idempotency_key(idempotency_key)
    new = NewOrder(
        customer_id=body.customer_id,
        currency=body.currency,
        lines=tuple(line.to_domain() for line in body.lines),
    )
    created = await orders.create(new, None if key is None else IdempotencyKey(key, caller.subject))
    response.headers["Location"] = _location(created.order.id)
    response.headers["ETag"] = etag(created.order.version)
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return OrderOut.of(created.order)


@router.get("/{order_id}", dependencies=READ)
async def get_order(order_id: UUID, response: Response, orders: Orders) -> OrderOut:
    """Read one order; its ``ETag`` is the version to send back in ``If-Match``."""
    order = await orders.get(order_id)
    response.headers["ETag"] = etag(order.version)
    return OrderOut.of(order)


def _next_url(request: Request, **changes: str | int) -> str:
    url = URL(request.url.path).include_query_params(**request.query_params)
    url = url.include_query_params(**changes)
    return str(url)


@router.get("", dependencies=READ)
async def list_orders(
    request: Request,
    orders: Orders,
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[
        int | None, Query(ge=0, description="Offset paging: skip this many orders.")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            description="Cursor paging: `next_cursor` of the previous page.",
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    customer_id: Annotated[
        str | None,
        Query(max_length=MAX_CUSTOMER_ID_LENGTH, pattern=CUSTOMER_ID_PATTERN),
    ] = None,
) -> OrderPage:
    """List orders, newest first: by cursor (default) or, with ``offset``, by position."""
    order_filter = OrderFilter(status=order_status, customer_id=customer_id)
    if offset is not None and cursor is not None:
        raise MalformedRequestError(
            "Use either offset or cursor paging, not both.",
            FieldViolation("cursor", "Remove `cursor` or `offset`."),
        )
    if offset is not None:
        page = await orders.list_by_offset(order_filter, offset=offset, limit=limit)
        next_offset = page.next_offset
        return OrderPage(
            data=[OrderOut.of(order) for order in page.items],
            pagination=OffsetPagination(
                limit=limit,
                offset=offset,
                total=page.total,
                next=None if next_offset is None else _next_url(request, offset=next_offset),
            ),
        )
    after = None if cursor is None else Cursor.decode(cursor)
    cursor_page = await orders.list_by_cursor(order_filter, after=after, limit=limit)
    token = None if cursor_page.next_cursor is None else cursor_page.next_cursor.encode()
    return OrderPage(
        data=[OrderOut.of(order) for order in cursor_page.items],
        pagination=CursorPagination(
            limit=limit,
            next_cursor=token,
            next=None if token is None else _next_url(request, cursor=token),
        ),
    )


@router.patch("/{order_id}", dependencies=WRITE)
async def update_order(
    order_id: UUID,
    body: OrderPatch,
    response: Response,
    orders: Orders,
    if_match: IfMatchHeader = None,
) -> OrderOut:
    """Change status or lines (JSON Merge Patch); ``If-Match`` guards lost updates."""
    changes = OrderChanges(
        status=body.status,
        lines=None if body.lines is None else tuple(line.to_domain() for line in body.lines),
    )
    order = await orders.update(order_id, changes, if_versions=parse_if_match(if_match))
    response.headers["ETag"] = etag(order.version)
    return OrderOut.of(order)


@router.delete("/{order_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE)
async def delete_order(order_id: UUID, orders: Orders, if_match: IfMatchHeader = None) -> None:
    """Delete an order; with ``If-Match``, only the version the caller has seen."""
    await orders.delete(order_id, if_versions=parse_if_match(if_match))
