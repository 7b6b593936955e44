"""Health, outages, crashes, deadlines, reflection, metrics and draining, over real TCP."""

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import grpc
import httpx
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.api.grpc.server import (
    ORDERS_SERVICE,
    RunningServer,
    probe_app,
    running_server,
)
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.resilience.errors import CircuitOpenError
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import details_of, handled, new_order, server_settings
from tests.support import access
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

READY = grpc.ChannelConnectivity.READY
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
REFLECTION_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


async def health_of(channel: aio.Channel, service: str = "") -> int:
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    response = await check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return response.status


async def eventually_serving(channel: aio.Channel, expected: int) -> None:
    async def reports_it() -> bool:
        return await health_of(channel) == expected

    await eventually(reports_it)


async def test_health_serves_the_server_and_each_service(channel: aio.Channel) -> None:
    assert await health_of(channel) == SERVING
    assert await health_of(channel, ORDERS_SERVICE) == SERVING
    with pytest.raises(aio.AioRpcError) as unknown:
        await health_of(channel, "no.such.Service")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_side_port_probes_and_metrics(server: RunningServer, client: OrdersClient) -> None:
    with pytest.raises(aio.AioRpcError):
        await client.get_order(str(uuid4()))
    transport = httpx.ASGITransport(app=probe_app(server.container))
    async with httpx.AsyncClient(transport=transport, base_url="http://side") as http:
        live, ready, metrics = [await http.get(p) for p in ("/healthz", "/readyz", "/metrics")]

    assert (live.status_code, live.json()) == (200, {"status": "ok", "checks": {}})
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
    assert metrics.headers["content-type"].startswith("text/plain")
    labels = f'grpc_code="NOT_FOUND",grpc_method="GetOrder",grpc_service="{ORDERS_SERVICE}"'
    assert "grpc_server_handled_total{" + labels + "}" in metrics.text
    assert "grpc_server_handling_seconds_bucket" in metrics.text


async def test_an_unexpected_database_error_is_not_serving_and_the_checks_go_on(
    server: RunningServer, channel: aio.Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def surprise() -> None:
        raise RuntimeError("a driver's surprise")

    monkeypatch.setattr(server.container.storage, "ping", surprise)
    await eventually_serving(channel, NOT_SERVING)
    monkeypatch.undo()
    await eventually_serving(channel, SERVING)


@pytest.fixture
async def proxied_server(
    proxied_database: tuple[Settings, TcpProxy],
) -> AsyncIterator[tuple[RunningServer, aio.Channel, TcpProxy]]:
    settings, proxy = proxied_database
    async with (
        running_server(server_settings(settings, log_requests=False)) as running,
        open_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        yield running, channel, proxy


async def test_database_outage_is_unavailable_retried_and_recovers(
    proxied_server: tuple[RunningServer, aio.Channel, TcpProxy],
    customer_id: str,
    credentials: Credentials | None,
) -> None:
    server, channel, proxy = proxied_server
    # Room for the channel's four attempts, each waiting out the database's failure.
    client = OrdersClient(channel, timeout=30.0, metadata=access.metadata(credentials))
    placed = await client.create_order(new_order(customer_id))
    side = httpx.ASGITransport(app=probe_app(server.container))
    before = handled("GetOrder", "UNAVAILABLE")

    proxy.cut()
    with pytest.raises(aio.AioRpcError) as read:
        await client.get_order(placed.id)
    await eventually_serving(channel, NOT_SERVING)
    async with httpx.AsyncClient(transport=side, base_url="http://side") as http:
        ready = await http.get("/readyz")

    error = details_of(read.value)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert (error.reason, error.retry_delay_seconds) == ("SERVICE_UNAVAILABLE", 5)
    assert handled("GetOrder", "UNAVAILABLE") - before == 4  # the channel's retry policy
    assert ready.status_code == 503

    proxy.restore()
    await eventually_serving(channel, SERVING)
    assert (await client.get_order(placed.id)).id == placed.id


async def test_unexpected_error_is_internal_without_internals(
    server: RunningServer, client: OrdersClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(order_id: UUID) -> None:
        raise RuntimeError(f"secret internals of {order_id}")

    monkeypatch.setattr(server.container.orders, "get", explode)

    with pytest.raises(aio.AioRpcError) as caught:
        await client.get_order(str(uuid4()))

    error = details_of(caught.value)
    assert error.code == grpc.StatusCode.INTERNAL
    assert (error.message, error.reason) == ("An unexpected error occurred.", "INTERNAL_ERROR")
    assert "secret" not in str(caught.value.details()) + str(caught.value.trailing_metadata())
    assert error.trailers["x-request-id"]


async def test_an_open_circuit_downstream_is_unavailable_with_its_retry_delay(
    server: RunningServer, client: OrdersClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(order_id: UUID) -> None:
        raise CircuitOpenError("payments", retry_after_seconds=7.2)

    monkeypatch.setattr(server.container.orders, "get", refused)

    with pytest.raises(aio.AioRpcError) as caught:
        await client.get_order(str(uuid4()))

    error = details_of(caught.value)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert (error.reason, error.retry_delay_seconds) == ("SERVICE_UNAVAILABLE", 8)  # rounded up
    assert "payments" in error.message


async def test_an_expired_deadline_cancels_the_work_on_the_server(
    server: RunningServer, client: OrdersClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(order_id: UUID) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    monkeypatch.setattr(server.container.orders, "get", slow)
    # Long enough for the call to reach the handler on a loaded machine, far below 30 s.
    client.timeout = 2.0

    with pytest.raises(aio.AioRpcError) as caught:
        await client.get_order(str(uuid4()))

    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert started.is_set(), "the deadline expired before the call reached the handler"
    await asyncio.wait_for(cancelled.wait(), timeout=5)


async def test_shutdown_drains_calls_in_flight(
    settings: Settings,
    customer_id: str,
    credentials: Credentials | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_server(server_settings(settings)) as running:
        get = running.container.orders.get
        arrived, released = asyncio.Event(), asyncio.Event()

        async def held(order_id: UUID) -> object:
            arrived.set()
            await released.wait()
            return await get(order_id)

        async with open_channel(f"127.0.0.1:{running.port}") as channel:
            # Deadlines no slow machine reaches: the call in flight waits for the refusal.
            client = OrdersClient(channel, timeout=30.0, metadata=access.metadata(credentials))
            placed = await client.create_order(new_order(customer_id))
            monkeypatch.setattr(running.container.orders, "get", held)
            in_flight = asyncio.create_task(client.get_order(placed.id))
            await asyncio.wait_for(arrived.wait(), timeout=30)  # the call is on the server
            stopping = asyncio.create_task(running.server.stop(30))
            # Refused once the client knows the server is going away (its GOAWAY takes the
            # channel out of READY). A call that reaches the server before it has been handed
            # to a handler is CANCELLED by gRPC itself (grpc/grpc#41785), not refused.
            await asyncio.wait_for(channel.wait_for_state_change(READY), timeout=30)
            with pytest.raises(aio.AioRpcError) as refused:
                await client.get_order(placed.id)
            released.set()

            assert (await in_flight).id == placed.id
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            await stopping


async def reflected_services(channel: aio.Channel) -> list[str]:
    info = channel.stream_stream(
        REFLECTION_METHOD,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    responses = info(iter([request]), timeout=5)
    async for response in responses:
        return [service.name for service in response.list_services_response.service]
    return []


async def test_reflection_is_off_by_default(channel: aio.Channel) -> None:
    # Asked in one unary call: a stream's separate write can race the server's refusal
    # and fail INTERNAL on the client (grpc/grpc#36066).
    ask = channel.unary_unary(
        REFLECTION_METHOD,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    with pytest.raises(aio.AioRpcError) as caught:
        await ask(reflection_pb2.ServerReflectionRequest(list_services=""), timeout=5)

    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_lists_the_services_when_enabled(settings: Settings) -> None:
    enabled = server_settings(settings, grpc_reflection=True)
    async with (
        running_server(enabled) as running,
        open_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        services = await reflected_services(channel)

    assert ORDERS_SERVICE in services
    assert "grpc.health.v1.Health" in services
