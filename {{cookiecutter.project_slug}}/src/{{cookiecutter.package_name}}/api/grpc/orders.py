"""The ``OrdersService`` servicer: requests in, use cases called, responses out.

Errors are raised as the service's own :class:`ServiceError`; the interceptor
turns them into statuses, so no method here calls ``context.abort``.
"""

import re
from typing import override

from {{ cookiecutter.package_name }}.api.grpc import messages
from {{ cookiecutter.package_name }}.api.grpc.interceptors import Context, metadata_value
from {{ cookiecutter.package_name }}.api.grpc.security import CALLER
from {{ cookiecutter.package_name }}.application.orders import IdempotencyKey, OrderService
from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2, orders_pb2_grpc

IDEMPOTENCY_KEY = "idempotency-key"
IDEMPOTENT_REPLAYED = "idempotent-replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def idempotency_key(context: Context) -> IdempotencyKey | None:
    """The caller's ``idempotency-key`` metadata entry, as the REST header's rules read it.

    Scoped to the caller the guard admitted: another caller's key is another key.
    """
    raw = metadata_value(context, IDEMPOTENCY_KEY)
    if raw is None:
        return None
    if not _KEY.fullmatch(raw):
        raise MalformedRequestError(
            "The idempotency-key metadata is not valid.",
            FieldViolation(IDEMPOTENCY_KEY, "Use 1 to 255 visible ASCII characters."),
        )
    return IdempotencyKey(raw, CALLER.get().subject)


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    """Create, read, list, change and delete orders."""

    def __init__(self, orders: OrderService) -> None:
        self._orders = orders

    @override
    async def CreateOrder(
        self, request: orders_pb2.CreateOrderRequest, context: Context
    ) -> orders_pb2.CreateOrderResponse:
        """Place an order; a repeat with the same idempotency key replays the first result."""
        new = messages.new_order(request.order)
        created = await self._orders.create(new, idempotency_key(context))
        if created.replayed:
            context.set_trailing_metadata(((IDEMPOTENT_REPLAYED, "true"),))
        return orders_pb2.CreateOrderResponse(order=messages.order_message(created.order))

    @override
    async def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: Context
    ) -> orders_pb2.GetOrderResponse:
        """Read one order."""
        order = await self._orders.get(messages.order_id(request.id))
        return orders_pb2.GetOrderResponse(order=messages.order_message(order))

    @override
    async def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: Context
    ) -> orders_pb2.ListOrdersResponse:
        """One page of orders, newest first, by keyset (the page token is a cursor)."""
        limit = messages.page_size(request.page_size)
        order_filter = messages.order_filter(request)
        after = (
            Cursor.decode(request.page_token, field="page_token") if request.page_token else None
        )
        page = await self._orders.list_by_cursor(order_filter, after=after, limit=limit)
        return orders_pb2.ListOrdersResponse(
            orders=[messages.order_message(order) for order in page.items],
            next_page_token="" if page.next_cursor is None else page.next_cursor.encode(),
        )

    @override
    async def UpdateOrder(
        self, request: orders_pb2.UpdateOrderRequest, context: Context
    ) -> orders_pb2.UpdateOrderResponse:
        """Change the fields the mask names; a stale etag changes nothing."""
        order_id, changes, if_versions = messages.order_changes(request)
        order = await self._orders.update(order_id, changes, if_versions=if_versions)
        return orders_pb2.UpdateOrderResponse(order=messages.order_message(order))

    @override
    async def DeleteOrder(
        self, request: orders_pb2.DeleteOrderRequest, context: Context
    ) -> orders_pb2.DeleteOrderResponse:
        """Delete an order; with an etag, only the version the caller has seen."""
        await self._orders.delete(
            messages.order_id(request.id), if_versions=messages.versions_matching(request.etag)
        )
        return orders_pb2.DeleteOrderResponse()
