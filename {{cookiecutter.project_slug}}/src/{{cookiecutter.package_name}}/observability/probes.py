"""The HTTP probe port, for processes whose own work is not HTTP.

A gRPC server and the workers (``deliver``, and ``relay`` and ``consume`` with
a broker) each serve ``/healthz``, ``/readyz`` and ``/metrics`` here (see
``health.py``), with uvicorn, the server the REST API runs on too. No API here,
but for the routes a process adds (a gRPC server receives webhooks on this port).
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from {{ cookiecutter.package_name }}.observability.health import Check, liveness_response, readiness_response
from {{ cookiecutter.package_name }}.observability.metrics import metrics_response


def create_probe_app(checks: Mapping[str, Check], routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The probe routes and ``routes``; ``checks`` name each dependency readiness waits for."""

    async def liveness(_: Request) -> Response:
        return liveness_response()

    async def readiness(_: Request) -> Response:
        return await readiness_response(checks)

    async def metrics(_: Request) -> Response:
        return metrics_response()

    return Starlette(
        routes=[
            Route("/healthz", liveness),
            Route("/readyz", readiness),
            Route("/metrics", metrics),
            *routes,
        ]
    )


class _ProbeServer(uvicorn.Server):
    """uvicorn inside a process that handles its own signals: it installs none of its own."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bound here, so a taken port raises ``OSError`` to the caller (uvicorn would exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


async def serve_probes(
    app: Starlette, host: str, port: int, shutdown_trigger: Callable[[], Awaitable[object]]
) -> None:
    """Serve ``app`` on ``host:port`` until ``shutdown_trigger`` returns."""
    config = uvicorn.Config(
        app,
        access_log=False,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = _ProbeServer(config)
    with _listening_socket(host, port) as listening:
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        stopping = asyncio.ensure_future(shutdown_trigger())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            server.should_exit = True  # uvicorn notices within a tick (0.1 s)
            stopping.cancel()
        await serving
