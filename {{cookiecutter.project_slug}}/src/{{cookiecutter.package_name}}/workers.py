"""The relay and consumer processes: what each runs, and what it is ready with.

Each runs until SIGINT or SIGTERM, finishes the round or delivery in hand, and
serves ``/healthz``, ``/readyz`` (database and broker) and ``/metrics`` meanwhile.
"""

from functools import partial

from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
from {{ cookiecutter.package_name }}.container import build_container, open_broker, open_fulfilment
from {{ cookiecutter.package_name }}.messaging.consumer import EventConsumer
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.messaging.relay import OutboxRelay
from {{ cookiecutter.package_name }}.observability.health import Check, answers, database_ready
from {{ cookiecutter.package_name }}.processes import run_with_probes, stop_on_signals
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import Storage


def _checks(storage: Storage, broker: Broker) -> dict[str, Check]:
    """What a worker of the event path is ready with: the database and the broker."""
    return {"database": partial(database_ready, storage), "broker": partial(answers, broker.ping)}


async def run_relay(settings: Settings) -> None:
    """Publish the outbox until told to stop."""
    stop = stop_on_signals()
    async with build_container(settings) as container, open_broker(settings) as broker:
        relay = OutboxRelay(container.events.outbox, broker, settings)
        await run_with_probes(settings, _checks(container.storage, broker), relay.run(stop), stop)


async def run_consumer(settings: Settings) -> None:
    """Consume order events until told to stop."""
    stop = stop_on_signals()
    async with (
        build_container(settings) as container,
        open_broker(settings) as broker,
        open_fulfilment(settings, container.breakers) as fulfilment,
    ):
        projector = CustomerActivityProjector(
            container.events, fulfilment, transaction_retry=container.transaction_retry
        )
        consumer = EventConsumer(broker, projector, settings)
        checks = _checks(container.storage, broker)
        await run_with_probes(settings, checks, consumer.run(stop), stop)
