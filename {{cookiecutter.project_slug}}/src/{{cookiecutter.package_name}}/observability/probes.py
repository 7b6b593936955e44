"""Probes and metrics over HTTP, for processes whose own work is not HTTP.

A gRPC server, the outbox relay and the event consumer each serve ``/healthz``
(the process answers), ``/readyz`` (every dependency answers; else 503, so the
instance leaves the rotation) and ``/metrics`` for Prometheus. No API here.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from hypercorn.asyncio import serve
from hypercorn.config import Config
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Check = Callable[[], Awaitable[bool]]


def create_probe_app(checks: Mapping[str, Check]) -> Starlette:
    """The probe routes; ``checks`` name each dependency readiness waits for."""

    async def liveness(_: Request) -> JSONResponse:
        """The process answers; checks no dependency, on purpose."""
        return JSONResponse({"status": "ok", "checks": {}})

    async def readiness(_: Request) -> JSONResponse:
        """Every check passes; else 503 and which one failed."""
        results = await asyncio.gather(*(check() for check in checks.values()))
        report = {
            name: "ok" if ok else "unavailable" for name, ok in zip(checks, results, strict=True)
        }
        if all(results):
            return JSONResponse({"status": "ready", "checks": report})
        return JSONResponse({"status": "unavailable", "checks": report}, status_code=503)

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


async def serve_probes(
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
