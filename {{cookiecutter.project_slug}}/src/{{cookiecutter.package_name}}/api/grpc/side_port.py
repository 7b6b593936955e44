"""The HTTP side port: what a gRPC deployment still needs over plain HTTP.

``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for probes that do not
speak gRPC. It carries no API: the orders are served over gRPC only.
"""

import logging
from collections.abc import Awaitable, Callable

from hypercorn.asyncio import serve
from hypercorn.config import Config
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from {{ cookiecutter.package_name }}.observability.health import database_ready
from {{ cookiecutter.package_name }}.storage.port import Storage


def create_side_app(storage: Storage) -> Starlette:
    """The side port's routes."""

    async def liveness(_: Request) -> JSONResponse:
        """The process answers; checks no dependency, on purpose."""
        return JSONResponse({"status": "ok", "checks": {}})

    async def readiness(_: Request) -> JSONResponse:
        """The database answers; else 503, so the instance leaves the rotation."""
        if await database_ready(storage):
            return JSONResponse({"status": "ready", "checks": {"database": "ok"}})
        body = {"status": "unavailable", "checks": {"database": "unavailable"}}
        return JSONResponse(body, status_code=503)

    async def metrics(_: Request) -> Response:
        """Every metric of this process, in the Prometheus text format."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", liveness),
            Route("/readyz", readiness),
            Route("/metrics", metrics),
        ]
    )


async def serve_side_port(
    app: Starlette, host: str, port: int, shutdown_trigger: Callable[[], Awaitable[object]]
) -> None:
    """Serve ``app`` on ``host:port`` until ``shutdown_trigger`` returns."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 1.0
    # hypercorn types ASGI apps more narrowly than Starlette declares its __call__.
    await serve(app, config, shutdown_trigger=shutdown_trigger)  # type: ignore[arg-type]
