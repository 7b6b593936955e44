"""Assembly: the one place that picks the adapters for this deployment."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from {{ cookiecutter.package_name }}.application.inbound_webhooks import ReceivedWebhooks
from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.application.payment_notifications import PaymentNotifications
from {{ cookiecutter.package_name }}.application.webhook_endpoints import WebhookEndpointService
from {{ cookiecutter.package_name }}.auth.guard import Guard
from {{ cookiecutter.package_name }}.auth.port import Authenticator
from {{ cookiecutter.package_name }}.auth.rate_limits import RateLimiter
from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.fulfilment.disabled import NoFulfilment
from {{ cookiecutter.package_name }}.fulfilment.http import HttpFulfilment
from {{ cookiecutter.package_name }}.fulfilment.port import Fulfilment
from {{ cookiecutter.package_name }}.messaging.port import Broker, BrokerAdapter, Topology
{%- endif %}
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.redis import RedisBreakerStore
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.settings import Settings
{%- if cookiecutter.auth == "api_key" %}
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore
{%- endif %}
{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.storage.events import EventStore
{%- endif %}
{%- if cookiecutter.database == "postgres" %}
{%- if cookiecutter.queue == "none" %}
from {{ cookiecutter.package_name }}.storage.no_outbox import NoOutbox
{%- endif %}
from {{ cookiecutter.package_name }}.storage.port import Migrator
{%- if cookiecutter.auth == "api_key" %}
from {{ cookiecutter.package_name }}.storage.postgres.api_keys import PostgresApiKeyStore
{%- endif %}
{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.storage.postgres.events import PostgresEventStore, PostgresOutbox
{%- endif %}
from {{ cookiecutter.package_name }}.storage.postgres.storage import PostgresStorage
from {{ cookiecutter.package_name }}.storage.postgres.webhooks import PostgresWebhookStore
{%- else %}
{%- if cookiecutter.auth == "api_key" %}
from {{ cookiecutter.package_name }}.storage.mongo.api_keys import MongoApiKeyStore
{%- endif %}
{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.storage.mongo.events import MongoEventStore, MongoOutbox
{%- endif %}
from {{ cookiecutter.package_name }}.storage.mongo.storage import MongoStorage
from {{ cookiecutter.package_name }}.storage.mongo.webhooks import MongoWebhookStore
{%- if cookiecutter.queue == "none" %}
from {{ cookiecutter.package_name }}.storage.no_outbox import NoOutbox
{%- endif %}
from {{ cookiecutter.package_name }}.storage.port import Migrator
{%- endif %}
from {{ cookiecutter.package_name }}.storage.webhooks import WebhookStore
from {{ cookiecutter.package_name }}.webhooks.delivery import WebhookDeliverer
from {{ cookiecutter.package_name }}.webhooks.destinations import DestinationPolicy
from {{ cookiecutter.package_name }}.webhooks.sources import WebhookSource
from {{ cookiecutter.package_name }}.webhooks.transport import GuardedTransport
{%- set storage_class = "PostgresStorage" if cookiecutter.database == "postgres" else "MongoStorage" %}

# A circuit's record in Redis outlives its longest window and cool-down (an hour at most);
# unused, it goes.
CIRCUIT_RECORD_TTL_SECONDS = 7200
{%- if cookiecutter.queue != "none" %}
FULFILMENT = "fulfilment"
{%- endif %}
WEBHOOKS = "webhooks"


@dataclass(frozen=True, slots=True)
class Container:
    """The long-lived objects one process shares between requests."""

    settings: Settings
    storage: {{ storage_class }}
    orders: OrderService
    guard: Guard
    breakers: BreakerStore
    transaction_retry: RetryPolicy
    webhooks: WebhookStore
    webhook_sources: Mapping[str, WebhookSource]
    webhook_endpoints: WebhookEndpointService
{%- if cookiecutter.queue != "none" %}
    events: EventStore
{%- endif %}


def transaction_retry_policy(settings: Settings) -> RetryPolicy:
    """How a unit of work whose transaction lost a race runs again."""
    return RetryPolicy(
        attempts=settings.transaction_retry_attempts,
        wait_initial_seconds=settings.transaction_retry_wait_initial_seconds,
        wait_max_seconds=settings.transaction_retry_wait_max_seconds,
        timeout_seconds=settings.transaction_retry_timeout_seconds,
    )


def webhook_sources(
    settings: Settings, orders: OrderService, received: ReceivedWebhooks
) -> dict[str, WebhookSource]:
    """Who may send this service webhooks, each at ``POST /v1/webhooks/<name>``.

    A second provider is its ``WEBHOOKS_<NAME>`` settings (a field of
    ``Settings``), the use case its messages drive, and one line here.
    """
    sources = [
        WebhookSource.configured(
            "payments", settings.webhooks_payments, PaymentNotifications(orders, received)
        ),
    ]
    return {source.name: source for source in sources}


def open_storage(settings: Settings) -> {{ storage_class }}:
    """The storage adapter chosen for this service; nothing connects until first use."""
{%- if cookiecutter.database == "postgres" %}
    return PostgresStorage.from_settings(
        settings, outbox={{ "NoOutbox" if cookiecutter.queue == "none" else "PostgresOutbox" }}
    )
{%- else %}
    return MongoStorage.from_settings(
        settings, outbox={{ "NoOutbox" if cookiecutter.queue == "none" else "MongoOutbox" }}
    )
{%- endif %}
{%- if cookiecutter.queue != "none" %}


def open_event_store(storage: {{ storage_class }}) -> EventStore:
    """The outbox relay's and the consumer's tables, on the storage's own pool."""
{%- if cookiecutter.database == "postgres" %}
    return PostgresEventStore(storage.engine)
{%- else %}
    return MongoEventStore(storage.client)
{%- endif %}
{%- endif %}



def open_webhook_store(storage: {{ storage_class }}) -> WebhookStore:
    """Webhook endpoints and their deliveries, on the storage's own pool."""
{%- if cookiecutter.database == "postgres" %}
    return PostgresWebhookStore(storage.engine)
{%- else %}
    return MongoWebhookStore(storage.client)
{%- endif %}
{%- if cookiecutter.auth == "api_key" %}


def open_api_key_store(storage: {{ storage_class }}) -> ApiKeyStore:
    """The API keys callers authenticate with, on the storage's own pool."""
{%- if cookiecutter.database == "postgres" %}
    return PostgresApiKeyStore(storage.engine)
{%- else %}
    return MongoApiKeyStore(storage.database)
{%- endif %}
{%- endif %}


def destination_policy(settings: Settings) -> DestinationPolicy:
    """Where webhooks may go: https to public addresses, unless the settings allow more."""
    return DestinationPolicy(
        allow_http=settings.webhooks_allow_http,
        allow_private=settings.webhooks_allow_private_addresses,
    )


def open_breaker_store(settings: Settings) -> BreakerStore:
    """Circuits shared by every replica through Redis when ``CIRCUIT_BREAKER_REDIS_URL`` is set."""
    if settings.circuit_breaker_redis_url is None:
        return MemoryBreakerStore()
    return RedisBreakerStore.from_url(
        str(settings.circuit_breaker_redis_url),
        key_prefix=settings.circuit_breaker_key_prefix,
        timeout_seconds=settings.circuit_breaker_redis_timeout_seconds,
        ttl_seconds=CIRCUIT_RECORD_TTL_SECONDS,
    )


def open_authenticator(
    settings: Settings, storage: {{ storage_class }}, breakers: BreakerStore
) -> Authenticator | None:
    """The authentication mode chosen for this service; ``None`` leaves it to a gateway."""
{%- if cookiecutter.auth == "jwt" %}
    from {{ cookiecutter.package_name }}.auth.jwt import JwtAuthenticator

    return JwtAuthenticator.from_settings(settings)
{%- elif cookiecutter.auth == "oauth2" %}
    from {{ cookiecutter.package_name }}.auth.oauth2 import OAuth2Authenticator

    return OAuth2Authenticator.from_settings(settings, breakers)
{%- elif cookiecutter.auth == "api_key" %}
    from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyAuthenticator

    return ApiKeyAuthenticator.from_settings(settings, open_api_key_store(storage))
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
{%- else %}
    from {{ cookiecutter.package_name }}.storage.mongo.migrator import MongoMigrator

    migrator = MongoMigrator.from_settings(settings)
{%- endif %}
    try:
        yield migrator
    finally:
        await migrator.close()
{%- if cookiecutter.queue != "none" %}


def broker_adapter() -> BrokerAdapter:
    """The chosen broker's adapter module, imported on first use (the API never loads it)."""
    from {{ cookiecutter.package_name }}.messaging import {{ cookiecutter.queue }} as adapter

    return adapter


@asynccontextmanager
async def open_broker(settings: Settings) -> AsyncIterator[Broker]:
    """The broker adapter chosen for this service, closed on exit.

    Opening connects nothing: the adapter connects on first use and again after
    a failure, so a worker starts (and reports itself unready) while the broker is down.
    """
    broker = broker_adapter().create_broker(settings)
    try:
        yield broker
    finally:
        await broker.close()


def broker_topology(namespace: str) -> Topology:
    """The names the chosen broker adapter declares for ``namespace``."""
    return broker_adapter().topology(namespace)


@asynccontextmanager
async def open_fulfilment(settings: Settings, breakers: BreakerStore) -> AsyncIterator[Fulfilment]:
    """The fulfilment system at ``FULFILMENT_URL``, or none when it is empty; closed on exit.
{%- if cookiecutter.auth == "oauth2" %}

    With ``OAUTH2_CLIENT_ID`` set, each call carries this service's own access
    token (client credentials), renewed before it expires and after a 401.
{%- endif %}
    """
    if settings.fulfilment_url is None:
        yield NoFulfilment()
        return
{%- if cookiecutter.auth == "oauth2" %}
    from {{ cookiecutter.package_name }}.auth.client_credentials import BearerAuth, ClientCredentials

    tokens = (
        ClientCredentials.from_settings(settings, breakers)
        if settings.oauth2_client_id is not None
        else None
    )
    client = DownstreamClient.for_downstream(
        FULFILMENT,
        settings.fulfilment,
        breakers,
        auth=BearerAuth(tokens) if tokens is not None else None,
    )
    try:
        yield HttpFulfilment(client, str(settings.fulfilment_url))
    finally:
        await client.aclose()
        if tokens is not None:
            await tokens.close()
{%- else %}
    client = DownstreamClient.for_downstream(FULFILMENT, settings.fulfilment, breakers)
    try:
        yield HttpFulfilment(client, str(settings.fulfilment_url))
    finally:
        await client.aclose()
{%- endif %}
{%- endif %}


@asynccontextmanager
async def open_webhook_deliverer(
    container: Container,
    *,
    policy: DestinationPolicy | None = None,
    owner: str | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[WebhookDeliverer]:
    """The ``deliver`` worker's deliverer and the one HTTP client webhooks leave by; closed on exit.

    The client connects only to addresses ``policy`` allows (the settings' by
    default), and each endpoint's calls go under a circuit of their own, kept
    in the container's breaker store (shared through Redis when configured).
    """
    settings = container.settings
    policy = policy or destination_policy(settings)
    downstream = settings.webhooks_delivery
    client = DownstreamClient(
        WEBHOOKS,
        downstream,
        None,
        transport=GuardedTransport(policy, max_connections=downstream.max_connections),
        max_response_bytes=settings.webhooks_max_response_bytes,
    )
    try:
        yield WebhookDeliverer(
            container.webhooks,
            client,
            container.breakers,
            settings,
            policy,
            owner=owner,
            clock=clock,
        )
    finally:
        await client.aclose()


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
    breakers = open_breaker_store(settings)
    try:
        guard = Guard(
            open_authenticator(settings, storage, breakers), RateLimiter.from_settings(settings)
        )
        try:
            transaction_retry = transaction_retry_policy(settings)
            orders = OrderService(
                storage,
                idempotency_ttl=timedelta(seconds=settings.idempotency_key_ttl_seconds),
                transaction_retry=transaction_retry,
            )
            received = ReceivedWebhooks(storage, transaction_retry=transaction_retry)
            webhooks = open_webhook_store(storage)
            webhook_endpoints = WebhookEndpointService(
                webhooks,
                destination_policy(settings),
                max_rotation_overlap=timedelta(
                    seconds=settings.webhooks_secret_rotation_overlap_seconds
                ),
            )
            yield Container(
                settings=settings,
                storage=storage,
                orders=orders,
                guard=guard,
                breakers=breakers,
                transaction_retry=transaction_retry,
                webhooks=webhooks,
                webhook_endpoints=webhook_endpoints,
                webhook_sources=webhook_sources(settings, orders, received),
{%- if cookiecutter.queue != "none" %}
                events=open_event_store(storage),
{%- endif %}
            )
        finally:
            await guard.close()
    finally:
        await breakers.close()
        await storage.close()
