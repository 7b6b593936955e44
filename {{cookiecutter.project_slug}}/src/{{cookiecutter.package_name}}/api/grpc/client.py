"""A client of the orders API, written the way callers of this service should write theirs.

- The channel's service config retries UNAVAILABLE (a restarting instance, a
  lost database) with exponential backoff; nothing else is retried, because
  any other status means a retry would fail the same way.
- Every call has a deadline, which the server sees and honours.
- Every create carries an idempotency key, chosen once per order: the channel's
  retries resend it, so a retried create never places a second order.
- A circuit breaker (``open_channel(..., breaker=...)``) refuses calls at once
  with ``CircuitOpenError`` while the server keeps failing, instead of
  piling more calls on it; it judges each call after the channel's retries.

Try it against a running server: run this module (``uv run python -m`` and its
dotted name) with ``--target 127.0.0.1:50051``.
"""

import argparse
import asyncio
import json
from collections.abc import Sequence
from uuid import uuid4

from google.protobuf import field_mask_pb2
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client_breaker import CircuitBreakerInterceptor
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2, orders_pb2_grpc
from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.settings import DownstreamSettings

ORDERS_SERVICE = "{{ cookiecutter.package_name }}.orders.v1.OrdersService"
DEFAULT_TIMEOUT_SECONDS = 5.0

SERVICE_CONFIG = {
    "methodConfig": [
        {
            "name": [{"service": ORDERS_SERVICE}],
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.1s",
                "maxBackoff": "2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}


def open_channel(target: str, *, breaker: CircuitBreaker | None = None) -> aio.Channel:
    """A channel to ``target`` (``host:port``) with the retry policy above, and ``breaker``."""
    return aio.insecure_channel(
        target,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
        ],
        interceptors=[] if breaker is None else [CircuitBreakerInterceptor(breaker)],
    )


class OrdersClient:
    """The orders API with a deadline on every call, and the caller's credentials on each."""

    def __init__(
        self,
        channel: aio.Channel,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.stub = orders_pb2_grpc.OrdersServiceStub(channel)
        self.timeout = timeout
        # Credentials travel as metadata: ("authorization", "Bearer <token>") or ("x-api-key", key).
        self.metadata = tuple(metadata)

    async def create_order(
        self, order: orders_pb2.Order, *, idempotency_key: str | None = None
    ) -> orders_pb2.Order:
        """Place ``order`` (customer_id, currency, lines)."""
        key = idempotency_key or str(uuid4())
        response = await self.stub.CreateOrder(
            orders_pb2.CreateOrderRequest(order=order),
            timeout=self.timeout,
            metadata=(*self.metadata, ("idempotency-key", key)),
        )
        return response.order

    async def get_order(self, order_id: str) -> orders_pb2.Order:
        """Read one order."""
        request = orders_pb2.GetOrderRequest(id=order_id)
        return (
            await self.stub.GetOrder(request, timeout=self.timeout, metadata=self.metadata)
        ).order

    async def list_orders(
        self, request: orders_pb2.ListOrdersRequest
    ) -> orders_pb2.ListOrdersResponse:
        """One page of orders."""
        return await self.stub.ListOrders(request, timeout=self.timeout, metadata=self.metadata)

    async def update_order(self, order: orders_pb2.Order, *paths: str) -> orders_pb2.Order:
        """Change the fields ``paths`` name, if ``order.etag`` (when set) is still current."""
        request = orders_pb2.UpdateOrderRequest(
            order=order, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        return (
            await self.stub.UpdateOrder(request, timeout=self.timeout, metadata=self.metadata)
        ).order

    async def delete_order(self, order_id: str, *, etag: str = "") -> None:
        """Delete an order (only at ``etag``, when given)."""
        request = orders_pb2.DeleteOrderRequest(id=order_id, etag=etag)
        await self.stub.DeleteOrder(request, timeout=self.timeout, metadata=self.metadata)


async def _demo(target: str, metadata: Sequence[tuple[str, str]]) -> None:
    # Kept in the process here; a service with replicas shares it (RedisBreakerStore).
    breaker = CircuitBreaker.for_downstream(
        "orders",
        DownstreamSettings(deadline_seconds=DEFAULT_TIMEOUT_SECONDS),
        MemoryBreakerStore(),
    )
    async with open_channel(target, breaker=breaker) as channel:
        client = OrdersClient(channel, metadata=metadata)
        placed = await client.create_order(
            orders_pb2.Order(
                customer_id="demo",
                currency="EUR",
                lines=[orders_pb2.OrderLine(sku="SKU-1", quantity=2, unit_price_minor=1250)],
            )
        )
        confirmed = await client.update_order(
            orders_pb2.Order(
                id=placed.id, status=orders_pb2.ORDER_STATUS_CONFIRMED, etag=placed.etag
            ),
            "status",
        )
        status = orders_pb2.OrderStatus.Name(confirmed.status)
        print(f"order {confirmed.id}: {status}, etag {confirmed.etag}")  # noqa: T201


def main() -> None:
    """Place an order and confirm it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--target", default="127.0.0.1:50051", help="host:port of the server")
    parser.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata on every call, such as the credentials: authorization='Bearer <token>'",
    )
    arguments = parser.parse_args()
    metadata = [tuple(entry.split("=", 1)) for entry in arguments.metadata]
    asyncio.run(_demo(arguments.target, [(key.lower(), value) for key, value in metadata]))


if __name__ == "__main__":
    main()
