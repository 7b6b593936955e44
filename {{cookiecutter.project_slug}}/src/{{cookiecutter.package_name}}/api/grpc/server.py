"""Server assembly: the APIs' services, health, reflection, interceptors, and shutdown."""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import structlog
from grpc import aio
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from starlette.applications import Starlette

from {{ cookiecutter.package_name }}.api.grpc.health import HealthReporter
from {{ cookiecutter.package_name }}.api.grpc.interceptors import RequestContextInterceptor
from {{ cookiecutter.package_name }}.api.grpc.orders import OrdersServicer
from {{ cookiecutter.package_name }}.api.grpc.security import GuardInterceptor
from {{ cookiecutter.package_name }}.api.grpc.webhook_endpoints import WebhookEndpointsServicer
from {{ cookiecutter.package_name }}.api.inbound_webhooks import webhook_route
from {{ cookiecutter.package_name }}.container import Container, build_container
from {{ cookiecutter.package_name }}.observability.health import database_ready
from {{ cookiecutter.package_name }}.observability.probes import create_probe_app, serve_probes
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2, orders_pb2_grpc
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc

ORDERS_SERVICE = orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name
WEBHOOK_ENDPOINTS_SERVICE = webhooks_pb2.DESCRIPTOR.services_by_name[
    "WebhookEndpointsService"
].full_name
SERVICES = (ORDERS_SERVICE, WEBHOOK_ENDPOINTS_SERVICE)
MAX_METADATA_BYTES = 16 * 1024

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A started server: the port it listens on and the objects it serves with."""

    server: aio.Server
    port: int
    container: Container
    health: HealthReporter


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[RunningServer]:
    """Build the container, start the gRPC server; on exit, drain calls and close.

    Shutdown first turns the health service to NOT_SERVING, then refuses new
    calls and lets calls in flight finish for up to the grace period.
    """
    async with build_container(settings) as container:
        server = aio.server(
            interceptors=[
                RequestContextInterceptor(log_requests=settings.log_requests),
                GuardInterceptor(container.guard),
            ],
            options=[
                # Fail to start if the port is taken, rather than share it with another process.
                ("grpc.so_reuseport", 0),
                # Metadata past this is refused by gRPC itself, before any of the service
                # (the guard, a log line) reads it; 16 KiB, as HTTP servers bound headers.
                ("grpc.max_metadata_size", MAX_METADATA_BYTES),
                ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            ],
        )
        orders_pb2_grpc.add_OrdersServiceServicer_to_server(
            OrdersServicer(container.orders), server
        )
        webhooks_pb2_grpc.add_WebhookEndpointsServiceServicer_to_server(
            WebhookEndpointsServicer(container.webhook_endpoints), server
        )
        reporter = HealthReporter(
            container.storage, SERVICES, settings.grpc_health_check_interval_seconds
        )
        health_pb2_grpc.add_HealthServicer_to_server(reporter.servicer, server)
        if settings.grpc_reflection:
            reflection.enable_server_reflection(
                (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
            )
        port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        await reporter.check()
        await server.start()
        reporter.start()
        try:
            yield RunningServer(server=server, port=port, container=container, health=reporter)
        finally:
            await reporter.shut_down()
            await server.stop(settings.grpc_graceful_shutdown_seconds)


def probe_app(container: Container) -> Starlette:
    """The HTTP side port: probes and metrics, for tools that do not speak gRPC, and webhooks."""
    return create_probe_app(
        {"database": partial(database_ready, container.storage)},
        [webhook_route(container.webhook_sources)],
    )


async def serve(settings: Settings) -> None:
    """Serve gRPC and the HTTP side port until SIGINT or SIGTERM, then drain and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    side_stop = asyncio.Event()
    async with running_server(settings) as running:
        side = asyncio.create_task(
            serve_probes(
                probe_app(running.container),
                settings.http_host,
                settings.http_port,
                side_stop.wait,
            )
        )
        log.info(
            "serving",
            grpc=f"{settings.grpc_host}:{running.port}",
            http=f"{settings.http_host}:{settings.http_port}",
            reflection=settings.grpc_reflection,
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({side, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if side.done():  # the side port failed (its port is taken, say): stop the server too
            stopping.cancel()
            await side
        log.info("shutting_down", grace_seconds=settings.grpc_graceful_shutdown_seconds)
    side_stop.set()
    await side
    log.info("shutdown_complete")
