"""Fixtures for tests of the whole event path: a fresh database and a broker namespace."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
from {{ cookiecutter.package_name }}.container import Container, build_container, open_broker
from {{ cookiecutter.package_name }}.fulfilment.disabled import NoFulfilment
from {{ cookiecutter.package_name }}.fulfilment.port import Fulfilment
from {{ cookiecutter.package_name }}.messaging.consumer import EventConsumer
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.messaging.relay import OutboxRelay
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.broker import BrokerServer, isolated_event_path
from tests.support.database import DatabaseServer


@pytest.fixture
async def events_settings(
    database_server: DatabaseServer, broker_server: BrokerServer, auth_settings: dict[str, Any]
) -> AsyncIterator[Settings]:
    """A migrated database and a broker namespace, both of this test alone."""
    async with isolated_event_path(database_server, broker_server, auth_settings) as settings:
        yield settings


@dataclass(frozen=True)
class EventPath:
    """The service's pieces on the event path, wired as the processes wire them."""

    settings: Settings
    container: Container
    broker: Broker

    def relay(self, owner: str | None = None) -> OutboxRelay:
        """A relay of the outbox to the broker."""
        return OutboxRelay(self.container.events.outbox, self.broker, self.settings, owner=owner)

    def consumer(
        self, fulfilment: Fulfilment | None = None, *, container: Container | None = None
    ) -> EventConsumer:
        """The consumer that keeps the customer tally (and asks ``fulfilment``, if given).

        ``container`` replaces the path's own, to reach the database another way
        (through a proxy the test cuts).
        """
        on = container or self.container
        projector = CustomerActivityProjector(
            on.events, fulfilment or NoFulfilment(), transaction_retry=on.transaction_retry
        )
        return EventConsumer(self.broker, projector, self.settings)

    async def orders_placed(self, customer_id: str) -> int:
        """The consumer's tally for ``customer_id``."""
        activity = await self.container.events.customer_activity.get(customer_id)
        return 0 if activity is None else activity.orders_placed


@pytest.fixture
async def event_path(events_settings: Settings) -> AsyncIterator[EventPath]:
    """The orders service, its relay and its consumer, on this test's database and namespace."""
    async with (
        build_container(events_settings) as container,
        open_broker(events_settings) as broker,
    ):
        yield EventPath(events_settings, container, broker)
