"""Assembly: the one place that picks the adapters for this deployment."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.auth.guard import Guard
from {{ cookiecutter.package_name }}.auth.port import Authenticator
from {{ cookiecutter.package_name }}.auth.rate_limits import RateLimiter
{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.messaging.port import Broker, Topology
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings
{%- if cookiecutter.database == "mongo" %}
from {{ cookiecutter.package_name }}.storage.mongo.storage import MongoStorage
{%- endif %}
from {{ cookiecutter.package_name }}.storage.port import Migrator, Storage
{%- if cookiecutter.database == "postgres" %}
from {{ cookiecutter.package_name }}.storage.postgres.storage import PostgresStorage
{%- endif %}


@dataclass(frozen=True, slots=True)
class Container:
    """The long-lived objects one process shares between requests."""

    settings: Settings
    storage: Storage
    orders: OrderService
    guard: Guard


def open_storage(settings: Settings) -> Storage:
    """The storage adapter chosen for this service."""
{%- if cookiecutter.database == "postgres" %}
    return PostgresStorage.from_settings(settings)
{%- elif cookiecutter.database == "mongo" %}
    return MongoStorage.from_settings(settings)
{%- endif %}


def open_authenticator(settings: Settings, storage: Storage) -> Authenticator | None:
    """The authentication mode chosen for this service{% if cookiecutter.auth == "none" %} (none: a gateway authenticates){% elif cookiecutter.auth != "api_key" %} (tokens need no storage){% endif %}."""
{%- if cookiecutter.auth == "jwt" %}
    from {{ cookiecutter.package_name }}.auth.jwt import JwtAuthenticator

    return JwtAuthenticator.from_settings(settings)
{%- elif cookiecutter.auth == "oauth2" %}
    from {{ cookiecutter.package_name }}.auth.oauth2 import OAuth2Authenticator

    return OAuth2Authenticator.from_settings(settings)
{%- elif cookiecutter.auth == "api_key" %}
    from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyAuthenticator

    return ApiKeyAuthenticator.from_settings(settings, storage.api_keys)
{%- else %}
    return None
{%- endif %}


@asynccontextmanager
async def open_migrator(settings: Settings) -> AsyncIterator[Migrator]:
    """The schema migrator of the chosen database, closed on exit.

    Imported on use: a serving process never migrates, so it need not load the
    migration machinery.
    """
{%- if cookiecutter.database == "postgres" %}
    from {{ cookiecutter.package_name }}.storage.postgres.migrator import PostgresMigrator

    migrator = PostgresMigrator.from_settings(settings)
{%- elif cookiecutter.database == "mongo" %}
    from {{ cookiecutter.package_name }}.storage.mongo.migrator import MongoMigrator

    migrator = MongoMigrator.from_settings(settings)
{%- endif %}
    try:
        yield migrator
    finally:
        await migrator.close()
{%- if cookiecutter.queue != "none" %}


@asynccontextmanager
async def open_broker(settings: Settings) -> AsyncIterator[Broker]:
    """The broker adapter chosen for this service, closed on exit.

    Opening connects nothing: the adapter connects on first use and again after
    a failure, so a worker starts (and reports itself unready) while the broker is down.
    """
{%- if cookiecutter.queue == "rabbitmq" %}
    from {{ cookiecutter.package_name }}.messaging.rabbitmq import RabbitMQBroker

    broker: Broker = RabbitMQBroker.from_settings(settings)
{%- elif cookiecutter.queue == "kafka" %}
    from {{ cookiecutter.package_name }}.messaging.kafka import KafkaBroker

    broker: Broker = KafkaBroker.from_settings(settings)
{%- elif cookiecutter.queue == "nats" %}
    from {{ cookiecutter.package_name }}.messaging.nats import NatsBroker

    broker: Broker = NatsBroker.from_settings(settings)
{%- elif cookiecutter.queue == "redis" %}
    from {{ cookiecutter.package_name }}.messaging.redis import RedisBroker

    broker: Broker = RedisBroker.from_settings(settings)
{%- endif %}
    try:
        yield broker
    finally:
        await broker.close()


def broker_topology(namespace: str) -> Topology:
    """The names the chosen broker adapter declares for ``namespace``."""
{%- if cookiecutter.queue == "rabbitmq" %}
    from {{ cookiecutter.package_name }}.messaging.rabbitmq import topology
{%- elif cookiecutter.queue == "kafka" %}
    from {{ cookiecutter.package_name }}.messaging.kafka import topology
{%- elif cookiecutter.queue == "nats" %}
    from {{ cookiecutter.package_name }}.messaging.nats import topology
{%- elif cookiecutter.queue == "redis" %}
    from {{ cookiecutter.package_name }}.messaging.redis import topology
{%- endif %}

    return topology(namespace)
{%- endif %}


async def check_configuration(settings: Settings) -> None:
    """Assemble the container and release it: settings that cannot work raise here.

    Nothing connects while assembling, so this needs no running database.
    """
    async with build_container(settings):
        pass


@asynccontextmanager
async def build_container(settings: Settings) -> AsyncIterator[Container]:
    """Connect the adapters and the use cases; release everything on exit."""
    storage = open_storage(settings)
    try:
        guard = Guard(open_authenticator(settings, storage), RateLimiter.from_settings(settings))
        try:
            orders = OrderService(
                storage, idempotency_ttl=timedelta(seconds=settings.idempotency_key_ttl_seconds)
            )
            yield Container(settings=settings, storage=storage, orders=orders, guard=guard)
        finally:
            await guard.close()
    finally:
        await storage.close()
