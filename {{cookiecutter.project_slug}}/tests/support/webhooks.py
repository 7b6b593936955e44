"""Webhook endpoints and deliveries for the delivery tests, and checking what receivers got.

Endpoints are written straight to the store (the API that creates them is
tested on its own); deliveries come from placing orders, as in production.
The signatures a receiver got are checked with the reference library,
``standardwebhooks``, not with the service's own code.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from standardwebhooks import Webhook

from {{ cookiecutter.package_name }}.container import Container
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    NewEndpoint,
    WebhookDelivery,
    WebhookEndpoint,
)
from {{ cookiecutter.package_name }}.settings import DownstreamSettings
from {{ cookiecutter.package_name }}.storage.webhooks import DeliveryFilter
from tests.support.downstream import Received

# One attempt per call; the circuit opens after three failures and stays open. The
# timeouts leave room for a machine under load: no test waits one out but with its own.
FAST_DELIVERY = DownstreamSettings(
    connect_timeout_seconds=2.0,
    read_timeout_seconds=3.0,
    write_timeout_seconds=2.0,
    pool_timeout_seconds=2.0,
    deadline_seconds=5.0,
    max_connections=8,
    retry_attempts=1,
    breaker_failure_threshold=3,
    breaker_failure_window_seconds=60.0,
    breaker_cooldown_seconds=60.0,
    breaker_half_open_calls=1,
)
# Settings that make deliveries quick to watch: a schedule in tenths of seconds, short leases.
FAST_WEBHOOKS: dict[str, object] = {
    "webhooks_allow_http": True,
    "webhooks_allow_private_addresses": True,
    "webhooks_delivery": FAST_DELIVERY,
    "webhooks_retry_schedule_seconds": (0.0, 0.2, 0.4),
    "webhooks_deliver_lease_seconds": 6.0,  # longer than a delivery's deadline, as it must be
    "webhooks_deliver_idle_seconds": 0.05,
    "webhooks_deliver_concurrency": 8,
}


async def subscribe(
    container: Container, url: str, *, event_types: frozenset[str] = frozenset()
) -> WebhookEndpoint:
    """An active endpoint at ``url``, stored as the endpoints API stores one."""
    endpoint = WebhookEndpoint.create(NewEndpoint(url, event_types), datetime.now(UTC))
    await container.webhooks.endpoints.add(endpoint)
    return endpoint


async def rotate(container: Container, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """``endpoint`` with a second secret; the first keeps signing for an hour."""
    rotated = endpoint.rotate_secret(datetime.now(UTC), timedelta(hours=1))
    assert await container.webhooks.endpoints.replace(rotated, expected_version=endpoint.version)
    return rotated


async def place_order(container: Container, customer_id: str = "webhook-customer") -> Order:
    """An order placed through the use case: its webhooks are written with it."""
    new = NewOrder(customer_id=customer_id, currency="EUR", lines=(OrderLine("SKU-1", 1, 990),))
    return (await container.orders.create(new)).order


async def deliveries_of(container: Container, endpoint_id: UUID) -> list[WebhookDelivery]:
    """The endpoint's deliveries, oldest first."""
    listed = await container.webhooks.deliveries.list_after(
        DeliveryFilter(endpoint_id=endpoint_id), None, limit=100
    )
    return sorted(listed, key=lambda delivery: delivery.created_at)


async def only_delivery(container: Container, endpoint_id: UUID) -> WebhookDelivery:
    """The endpoint's one delivery."""
    (delivery,) = await deliveries_of(container, endpoint_id)
    return delivery


async def attempts_of(container: Container, delivery_id: UUID) -> list[DeliveryAttempt]:
    """Every attempt of the delivery, first first."""
    return await container.webhooks.deliveries.attempts(delivery_id)


def verified(received: Received, secret: str) -> object:
    """The payload ``received`` carries, if ``secret`` signed it (the reference library says)."""
    return Webhook(secret).verify(received.body, received.headers)
