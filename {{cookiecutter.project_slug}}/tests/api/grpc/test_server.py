"""The real server process: serves gRPC and the side port over TCP, drains on SIGTERM."""

import asyncio
import signal

import httpx

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import new_order
from tests.support import access
from tests.support.processes import free_port, start_serving, wait_until_ready


async def place_and_read(target: str, credentials: Credentials | None) -> orders_pb2.Order:
    async with open_channel(target) as channel:
        client = OrdersClient(channel, metadata=access.metadata(credentials))
        call = client.stub.CreateOrder(
            orders_pb2.CreateOrderRequest(order=new_order("tcp")),
            timeout=5,
            metadata=(*client.metadata, ("x-request-id", "e2e-1")),
        )
        placed = (await call).order
        return await client.get_order(placed.id)


def test_serve_answers_over_tcp_and_shuts_down_on_sigterm(
    database_settings: Settings, credentials: Credentials | None
) -> None:
    grpc_port, http_port = free_port(), free_port()
    process = start_serving(database_settings, GRPC_PORT=str(grpc_port), HTTP_PORT=str(http_port))
    try:
        wait_until_ready(f"http://127.0.0.1:{http_port}", process)
        order = asyncio.run(place_and_read(f"127.0.0.1:{grpc_port}", credentials))
        assert order.status == orders_pb2.ORDER_STATUS_PENDING
        metrics = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=5).text
        assert 'grpc_method="CreateOrder"' in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert process.returncode == 0, output.decode()
    assert b'"event":"shutting_down"' in output
    assert b'"event":"shutdown_complete"' in output
    assert b'"request_id":"e2e-1"' in output
    assert b"Traceback" not in output
