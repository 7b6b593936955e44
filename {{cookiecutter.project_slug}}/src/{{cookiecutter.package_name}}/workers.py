"""The relay and consumer processes: their wiring, probes and shutdown.

Each runs until SIGINT or SIGTERM, finishes the round or delivery in hand, and
serves ``/healthz``, ``/readyz`` (database and broker) and ``/metrics`` meanwhile.
"""

import asyncio
import signal
from collections.abc import Coroutine
from functools import partial
from typing import Any

import structlog

from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
from {{ cookiecutter.package_name }}.container import build_container, open_broker, open_fulfilment
from {{ cookiecutter.package_name }}.messaging.consumer import EventConsumer
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.messaging.relay import OutboxRelay
from {{ cookiecutter.package_name }}.observability.health import answers, database_ready
from {{ cookiecutter.package_name }}.observability.probes import create_probe_app, serve_probes
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import Storage

log = structlog.get_logger(__name__)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _with_probes(
    settings: Settings,
    storage: Storage,
    broker: Broker,
    work: Coroutine[Any, Any, None],
    stop: asyncio.Event,
) -> None:
    """Run ``work`` beside the probe server; either one ending ends both."""
    app = create_probe_app(
        {"database": partial(database_ready, storage), "broker": partial(answers, broker.ping)}
    )
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


async def run_relay(settings: Settings) -> None:
    """Publish the outbox until told to stop."""
    stop = _stop_on_signals()
    async with build_container(settings) as container, open_broker(settings) as broker:
        relay = OutboxRelay(container.events.outbox, broker, settings)
        await _with_probes(settings, container.storage, broker, relay.run(stop), stop)


async def run_consumer(settings: Settings) -> None:
    """Consume order events until told to stop."""
    stop = _stop_on_signals()
    async with (
        build_container(settings) as container,
        open_broker(settings) as broker,
        open_fulfilment(settings, container.breakers) as fulfilment,
    ):
        projector = CustomerActivityProjector(
            container.events, fulfilment, transaction_retry=container.transaction_retry
        )
        consumer = EventConsumer(broker, projector, settings)
        await _with_probes(settings, container.storage, broker, consumer.run(stop), stop)
