"""What every worker process shares: stopping on a signal, and the probe port beside the work.

A worker (``relay``, ``consume``, ``deliver``) runs until SIGINT or SIGTERM,
finishes what it has in hand, and serves ``/healthz``, ``/readyz`` (its
dependencies) and ``/metrics`` on ``HTTP_PORT`` meanwhile.
"""

import asyncio
import signal
from collections.abc import Coroutine, Mapping
from typing import Any

import structlog

from {{ cookiecutter.package_name }}.observability.health import Check
from {{ cookiecutter.package_name }}.observability.probes import create_probe_app, serve_probes
from {{ cookiecutter.package_name }}.settings import Settings

log = structlog.get_logger(__name__)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: the worker's cue to finish and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def run_with_probes(
    settings: Settings,
    checks: Mapping[str, Check],
    work: Coroutine[Any, Any, None],
    stop: asyncio.Event,
) -> None:
    """Run ``work`` beside the probe server; either one ending ends both.

    ``checks`` name the dependencies ``/readyz`` waits for.
    """
    app = create_probe_app(checks)
    probes = asyncio.create_task(
        serve_probes(app, settings.http_host, settings.http_port, stop.wait)
    )
    working = asyncio.create_task(work)
    log.info("probes_serving", http=f"{settings.http_host}:{settings.http_port}")
    await asyncio.wait({probes, working}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()  # the probe server failed (its port is taken, say), or the work ended
    try:
        await working
    finally:
        await probes
