"""Readiness: the standard gRPC health service, kept in step with the database.

The health service answers for the whole server (``""``) and for each service
by name: SERVING while the database answers, NOT_SERVING while it does not, and
NOT_SERVING for good once shutdown begins, so balancers stop sending calls.
"""

import asyncio
import contextlib
from collections.abc import Sequence

from grpc_health.v1 import health, health_pb2

from {{ cookiecutter.package_name }}.observability.health import database_ready
from {{ cookiecutter.package_name }}.storage.port import Storage

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthReporter:
    """Checks the database every ``interval`` seconds and publishes the result."""

    def __init__(self, storage: Storage, services: Sequence[str], interval: float) -> None:
        self.servicer = health.aio.HealthServicer()
        self._storage = storage
        self._services = ("", *services)
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> bool:
        """Check the database once and publish the status; return whether it is ready."""
        ready = await database_ready(self._storage)
        for service in self._services:
            await self.servicer.set(service, SERVING if ready else NOT_SERVING)
        return ready

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._stopping.wait()

    def start(self) -> None:
        """Start checking in the background."""
        self._task = asyncio.create_task(self._run(), name="health-reporter")

    async def shut_down(self) -> None:
        """Stop checking and report NOT_SERVING for every service from now on.

        A check in flight finishes (within the readiness timeout) rather than
        being cancelled: a database driver cancelled mid-connect may leave its
        socket open.
        """
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.servicer.enter_graceful_shutdown()
