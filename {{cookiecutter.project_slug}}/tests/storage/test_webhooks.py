"""The webhooks port's promises, held against the real database of this service.

Each test has a database of its own: deliveries are a queue, and other tests'
orders would be in it.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.container import (
    open_migrator,
    open_storage,
    open_webhook_store,
    transaction_retry_policy,
)
from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine, to_stored_precision
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointChanges,
    EndpointStatus,
    NewEndpoint,
    WebhookDelivery,
    WebhookEndpoint,
    webhook_body,
)
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import Storage
from {{ cookiecutter.package_name }}.storage.webhooks import DeliveryFilter, WebhookStore
from tests.support.database import DatabaseServer

LEASE = timedelta(seconds=30)
# The migration that adds the webhook tables: the same number on every database.
WEBHOOKS_REVISION = "0004"
CREATED = OrderEventType.CREATED.value
UPDATED = OrderEventType.UPDATED.value


@pytest.fixture
async def stores(fresh_database_settings: Settings) -> AsyncIterator[tuple[Storage, WebhookStore]]:
    opened = open_storage(fresh_database_settings)
    try:
        yield opened, open_webhook_store(opened)
    finally:
        await opened.close()


@pytest.fixture
def storage(stores: tuple[Storage, WebhookStore]) -> Storage:
    return stores[0]


@pytest.fixture
def webhooks(stores: tuple[Storage, WebhookStore]) -> WebhookStore:
    return stores[1]


def now() -> datetime:
    return to_stored_precision(datetime.now(UTC))


async def an_endpoint(
    webhooks: WebhookStore, *event_types: str, at: datetime | None = None
) -> WebhookEndpoint:
    new = NewEndpoint(f"https://{uuid4().hex[:8]}.example/hooks", frozenset(event_types))
    endpoint = WebhookEndpoint.create(new, at or now())
    await webhooks.endpoints.add(endpoint)
    return endpoint


def an_order() -> Order:
    new = NewOrder(customer_id="c-1", currency="EUR", lines=(OrderLine("A", 1, 100),))
    return Order.place(new, datetime.now(UTC))


async def announce(storage: Storage, event: OrderEvent) -> int:
    """Write the event's deliveries in a committed unit of work; how many."""
    async with storage.unit_of_work() as uow:
        written = await uow.webhooks.add(event)
        await uow.commit()
    return written


async def deliveries_of(webhooks: WebhookStore, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    return await webhooks.deliveries.list_after(
        DeliveryFilter(endpoint_id=endpoint.id), None, limit=100
    )


async def pending_delivery(
    storage: Storage, webhooks: WebhookStore, endpoint: WebhookEndpoint
) -> WebhookDelivery:
    """A new due delivery to ``endpoint`` (and to any other endpoint that subscribes)."""
    await announce(storage, OrderEvent.created(an_order()))
    return (await deliveries_of(webhooks, endpoint))[0]


def attempted(
    delivery: WebhookDelivery,
    status_code: int | None,
    at: datetime,
    *,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    retry_in: timedelta | None = timedelta(minutes=5),
) -> tuple[WebhookDelivery, DeliveryAttempt]:
    """The delivery after one more attempt, and the attempt."""
    number = delivery.attempts + 1
    after = replace(
        delivery,
        status=status,
        attempts=number,
        next_attempt_at=None if retry_in is None else at + retry_in,
        updated_at=at,
        last_status_code=status_code,
        last_error=None if status_code else "connection refused",
    )
    attempt = DeliveryAttempt(
        delivery_id=delivery.id,
        number=number,
        attempted_at=at,
        duration_seconds=0.25,
        status_code=status_code,
        response_excerpt=f"answer {number}",
        error=None if status_code else "connection refused",
    )
    return after, attempt


async def test_an_order_change_writes_one_delivery_per_subscribed_active_endpoint(
    storage: Storage, webhooks: WebhookStore, fresh_database_settings: Settings
) -> None:
    everything = await an_endpoint(webhooks)
    creations = await an_endpoint(webhooks, CREATED)
    updates = await an_endpoint(webhooks, UPDATED)
    disabled = await an_endpoint(webhooks)
    assert await webhooks.endpoints.replace(
        disabled.disable("testing", now()), expected_version=disabled.version
    )
    orders = OrderService(
        storage,
        idempotency_ttl=timedelta(hours=1),
        transaction_retry=transaction_retry_policy(fresh_database_settings),
    )

    order = (await orders.create(NewOrder("c-1", "EUR", (OrderLine("A", 1, 100),)))).order

    [first] = await deliveries_of(webhooks, everything)
    [second] = await deliveries_of(webhooks, creations)
    assert await deliveries_of(webhooks, updates) == []
    assert await deliveries_of(webhooks, disabled) == []
    assert first.body == second.body
    assert first.event_id == second.event_id
    assert first.id != second.id
    assert (first.status, first.attempts, first.event_type) == (DeliveryStatus.PENDING, 0, CREATED)
    assert first.next_attempt_at == first.created_at == order.created_at
    body = json.loads(first.body)
    assert (body["type"], body["data"]["id"]) == (CREATED, str(order.id))


async def test_deliveries_commit_or_roll_back_with_the_unit_of_work(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    kept, dropped = OrderEvent.created(an_order()), OrderEvent.created(an_order())

    assert await announce(storage, kept) == 1
    async with storage.unit_of_work() as uow:
        assert await uow.webhooks.add(dropped) == 1
        # no commit

    [delivery] = await deliveries_of(webhooks, endpoint)
    assert delivery.event_id == kept.id
    assert delivery.body == webhook_body(kept)
    assert delivery.message_id == f"msg_{kept.id.hex}"


async def test_a_received_webhook_is_recorded_once(storage: Storage) -> None:
    message_id = f"msg_{uuid4().hex}"
    at = now()
    async with storage.unit_of_work() as uow:
        assert await uow.webhook_inbox.record("payments", message_id, at)
        # no commit: the effect did not happen, so neither did the receipt
    async with storage.unit_of_work() as uow:
        assert await uow.webhook_inbox.record("payments", message_id, at)
        await uow.commit()

    async with storage.unit_of_work() as uow:
        assert not await uow.webhook_inbox.record("payments", message_id, at)
        assert await uow.webhook_inbox.record("carrier", message_id, at)
        await uow.commit()

    async with storage.unit_of_work() as uow:
        assert await uow.webhook_inbox.purge_before(at + timedelta(seconds=1)) == 2
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.webhook_inbox.record("payments", message_id, at)


async def test_concurrent_workers_never_claim_the_same_delivery(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    for _ in range(20):
        await announce(storage, OrderEvent.created(an_order()))
    at = now() + timedelta(seconds=1)

    claims = await asyncio.gather(
        *(webhooks.deliveries.claim(f"worker-{n}", limit=8, lease=LEASE, now=at) for n in range(3))
    )
    rest = await webhooks.deliveries.claim("worker-late", limit=20, lease=LEASE, now=at)

    claimed = [item.delivery.id for batch in (*claims, rest) for item in batch]
    assert len(claimed) == len(set(claimed)) == 20
    assert {item.endpoint for batch in claims for item in batch} == {endpoint}
    assert await webhooks.deliveries.claim("worker-0", limit=20, lease=LEASE, now=at) == []


async def test_claims_take_the_most_overdue_due_deliveries_of_active_endpoints(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    later, sooner, not_due = [await pending_delivery(storage, webhooks, endpoint) for _ in range(3)]
    start = now()
    for delivery, due_in in ((later, 20), (sooner, 10), (not_due, 60)):
        owner = f"setup-{delivery.id}"
        [setup] = await webhooks.deliveries.claim(owner, limit=1, lease=LEASE, now=start)
        assert setup.delivery.id == delivery.id
        after, attempt = attempted(delivery, 500, start, retry_in=timedelta(seconds=due_in))
        assert await webhooks.deliveries.record_attempt(owner, after, attempt)

    due = await webhooks.deliveries.claim(
        "worker", limit=10, lease=LEASE, now=start + timedelta(seconds=30)
    )
    assert [item.delivery.id for item in due] == [sooner.id, later.id]

    quiet = await an_endpoint(webhooks)
    await pending_delivery(storage, webhooks, quiet)
    assert await webhooks.endpoints.replace(
        quiet.disable("testing", now()), expected_version=quiet.version
    )
    claimed = await webhooks.deliveries.claim("worker", limit=10, lease=LEASE, now=now())
    assert [item.endpoint.id for item in claimed] == [endpoint.id]


async def test_an_expired_lease_lets_another_worker_claim_and_refuses_the_first(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    delivery = await pending_delivery(storage, webhooks, endpoint)
    at = now()
    short = timedelta(seconds=5)

    assert len(await webhooks.deliveries.claim("crashed", limit=10, lease=short, now=at)) == 1
    assert await webhooks.deliveries.claim("worker", limit=10, lease=short, now=at) == []
    later = at + timedelta(seconds=6)
    [retaken] = await webhooks.deliveries.claim("worker", limit=10, lease=short, now=later)
    assert retaken.delivery.id == delivery.id

    stale = attempted(delivery, 200, later, status=DeliveryStatus.SUCCEEDED, retry_in=None)
    assert not await webhooks.deliveries.record_attempt("crashed", *stale)
    assert await webhooks.deliveries.attempts(delivery.id) == []
    assert await webhooks.deliveries.get(delivery.id) == delivery


async def test_attempts_are_kept_in_order_and_end_the_lease(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    delivery = await pending_delivery(storage, webhooks, endpoint)
    at = now()

    await webhooks.deliveries.claim("worker", limit=1, lease=LEASE, now=at)
    first, first_attempt = attempted(delivery, None, at, retry_in=timedelta(seconds=5))
    assert await webhooks.deliveries.record_attempt("worker", first, first_attempt)
    assert await webhooks.deliveries.get(delivery.id) == first

    retry_at = at + timedelta(seconds=5)
    [claimed] = await webhooks.deliveries.claim("other", limit=1, lease=LEASE, now=retry_at)
    assert claimed.delivery == first
    second, second_attempt = attempted(
        first, 200, retry_at, status=DeliveryStatus.SUCCEEDED, retry_in=None
    )
    assert await webhooks.deliveries.record_attempt("other", second, second_attempt)

    assert await webhooks.deliveries.get(delivery.id) == second
    assert await webhooks.deliveries.attempts(delivery.id) == [first_attempt, second_attempt]
    far = retry_at + timedelta(days=1)
    assert await webhooks.deliveries.claim("other", limit=1, lease=LEASE, now=far) == []


async def test_a_released_delivery_is_claimed_again_at_once(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    delivery = await pending_delivery(storage, webhooks, endpoint)
    at = now()

    await webhooks.deliveries.claim("stopping", limit=1, lease=LEASE, now=at)
    await webhooks.deliveries.release("someone-else", [delivery.id])
    assert await webhooks.deliveries.claim("worker", limit=1, lease=LEASE, now=at) == []
    await webhooks.deliveries.release("stopping", [delivery.id])

    [claimed] = await webhooks.deliveries.claim("worker", limit=1, lease=LEASE, now=at)
    assert claimed.delivery == delivery


async def test_failed_deliveries_are_replayed_with_their_last_answer(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint, other = await an_endpoint(webhooks), await an_endpoint(webhooks)
    exhausted = await pending_delivery(storage, webhooks, endpoint)
    [elsewhere] = await deliveries_of(webhooks, other)
    untouched = await pending_delivery(storage, webhooks, endpoint)
    at = now()
    await webhooks.deliveries.claim("worker", limit=10, lease=LEASE, now=at)
    for delivery in (exhausted, elsewhere):
        after, attempt = attempted(delivery, 503, at, status=DeliveryStatus.FAILED, retry_in=None)
        assert await webhooks.deliveries.record_attempt("worker", after, attempt)
    await webhooks.deliveries.release("worker", [untouched.id])
    failed = DeliveryFilter(endpoint_id=endpoint.id, status=DeliveryStatus.FAILED)
    assert [d.id for d in await webhooks.deliveries.list_after(failed, None, limit=10)] == [
        exhausted.id
    ]

    replay_at = at + timedelta(minutes=1)
    assert await webhooks.deliveries.replay(failed, replay_at, limit=10) == 1

    replayed = await webhooks.deliveries.get(exhausted.id)
    assert replayed is not None
    assert (replayed.status, replayed.attempts, replayed.next_attempt_at) == (
        DeliveryStatus.PENDING,
        0,
        replay_at,
    )
    assert (replayed.last_status_code, replayed.last_error) == (503, None)
    assert len(await webhooks.deliveries.attempts(exhausted.id)) == 1
    assert await webhooks.deliveries.get(untouched.id) == untouched
    still = await webhooks.deliveries.get(elsewhere.id)
    assert still is not None
    assert still.status is DeliveryStatus.FAILED
    assert await webhooks.deliveries.replay(DeliveryFilter(), replay_at, limit=10) == 1


async def test_the_backlog_counts_pending_deliveries_per_endpoint(
    storage: Storage, webhooks: WebhookStore
) -> None:
    busy = await an_endpoint(webhooks)
    quiet = await an_endpoint(webhooks, UPDATED)
    first = await pending_delivery(storage, webhooks, busy)
    await pending_delivery(storage, webhooks, busy)
    assert first.next_attempt_at is not None

    [backlog] = await webhooks.deliveries.backlog(first.next_attempt_at + timedelta(seconds=10))

    assert (backlog.endpoint_id, backlog.pending) == (busy.id, 2)
    assert backlog.oldest_due_age_seconds == pytest.approx(10.0)
    early = await webhooks.deliveries.backlog(first.next_attempt_at - timedelta(seconds=10))
    assert early[0].oldest_due_age_seconds == 0.0
    assert quiet.id not in {entry.endpoint_id for entry in early}


async def test_disabling_an_endpoint_fails_its_pending_deliveries(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    other = await an_endpoint(webhooks)
    in_flight = await pending_delivery(storage, webhooks, endpoint)
    waiting = await pending_delivery(storage, webhooks, endpoint)
    at = now()
    claimed = await webhooks.deliveries.claim("worker", limit=10, lease=LEASE, now=at)
    await webhooks.deliveries.release(
        "worker", [item.delivery.id for item in claimed if item.delivery.id != in_flight.id]
    )

    disabled = endpoint.disable("the endpoint answered 410 Gone", at)
    assert not await webhooks.endpoints.replace(disabled, expected_version=disabled.version)
    assert await webhooks.endpoints.replace(disabled, expected_version=endpoint.version)

    assert await webhooks.endpoints.get(endpoint.id) == disabled
    for delivery_id in (in_flight.id, waiting.id):
        failed = await webhooks.deliveries.get(delivery_id)
        assert failed is not None
        assert (failed.status, failed.next_attempt_at) == (DeliveryStatus.FAILED, None)
        assert failed.last_error == "endpoint disabled: the endpoint answered 410 Gone"
    # The worker that was sending meanwhile keeps its attempt; the delivery stays failed.
    after, attempt = attempted(in_flight, 500, at)
    assert await webhooks.deliveries.record_attempt("worker", after, attempt)
    kept = await webhooks.deliveries.get(in_flight.id)
    assert kept is not None
    assert (kept.status, kept.last_status_code, kept.attempts) == (DeliveryStatus.FAILED, 500, 1)
    assert await webhooks.deliveries.attempts(in_flight.id) == [attempt]
    assert all(d.status is DeliveryStatus.PENDING for d in await deliveries_of(webhooks, other))


async def test_failures_are_counted_in_the_row_and_kept_by_edits(webhooks: WebhookStore) -> None:
    endpoint = await an_endpoint(webhooks)
    start = now()

    first = await webhooks.endpoints.failed(endpoint.id, start)
    second = await webhooks.endpoints.failed(endpoint.id, start + timedelta(minutes=1))
    assert first is not None
    assert second is not None
    assert (second.failure_streak, second.failing_since) == (2, start)
    assert second.version == endpoint.version
    assert await webhooks.endpoints.failed(uuid4(), start) is None

    # An edit made from a copy read before the failures keeps the stored counts.
    edited = endpoint.apply(EndpointChanges(description="renamed"), start)
    assert await webhooks.endpoints.replace(edited, expected_version=endpoint.version)
    stored = await webhooks.endpoints.get(endpoint.id)
    assert stored is not None
    assert (stored.description, stored.failure_streak, stored.failing_since) == (
        "renamed",
        2,
        start,
    )

    await webhooks.endpoints.recovered(endpoint.id)
    recovered = await webhooks.endpoints.get(endpoint.id)
    assert recovered is not None
    assert (recovered.failure_streak, recovered.failing_since) == (0, None)

    # Enabling a disabled endpoint forgets its failures.
    failing = await webhooks.endpoints.failed(endpoint.id, start)
    assert failing is not None
    disabled = failing.disable("too many failures", start)
    assert await webhooks.endpoints.replace(disabled, expected_version=failing.version)
    await webhooks.endpoints.failed(endpoint.id, start)
    enabled = disabled.apply(EndpointChanges(status=EndpointStatus.ACTIVE), start)
    assert await webhooks.endpoints.replace(enabled, expected_version=disabled.version)
    assert await webhooks.endpoints.get(endpoint.id) == enabled


async def test_deleting_an_endpoint_deletes_its_deliveries_and_attempts(
    storage: Storage, webhooks: WebhookStore
) -> None:
    endpoint = await an_endpoint(webhooks)
    delivery = await pending_delivery(storage, webhooks, endpoint)
    at = now()
    await webhooks.deliveries.claim("worker", limit=1, lease=LEASE, now=at)
    assert await webhooks.deliveries.record_attempt("worker", *attempted(delivery, 500, at))

    assert await webhooks.endpoints.delete(endpoint.id)

    assert await webhooks.endpoints.get(endpoint.id) is None
    assert await webhooks.deliveries.get(delivery.id) is None
    assert await webhooks.deliveries.attempts(delivery.id) == []
    assert not await webhooks.endpoints.delete(endpoint.id)


async def test_endpoints_and_deliveries_are_listed_newest_first_in_pages(
    storage: Storage, webhooks: WebhookStore
) -> None:
    start = now()
    endpoints = [await an_endpoint(webhooks, at=start + timedelta(seconds=n)) for n in range(5)]
    newest_first = endpoints[::-1]

    pages: list[list[UUID]] = []
    after: Cursor | None = None
    while page := await webhooks.endpoints.list_after(after, limit=2):
        pages.append([endpoint.id for endpoint in page])
        after = Cursor(page[-1].created_at, page[-1].id)
    assert pages == [
        [e.id for e in newest_first[0:2]],
        [e.id for e in newest_first[2:4]],
        [newest_first[4].id],
    ]
    assert await webhooks.endpoints.get(endpoints[0].id) == endpoints[0]

    for _ in range(3):
        await pending_delivery(storage, webhooks, endpoints[0])
    everything = await webhooks.deliveries.list_after(DeliveryFilter(), None, limit=100)
    assert len(everything) == 15
    assert everything == sorted(everything, key=lambda d: (d.created_at, d.id), reverse=True)
    mine = DeliveryFilter(endpoint_id=endpoints[0].id, status=DeliveryStatus.PENDING)
    first_page = await webhooks.deliveries.list_after(mine, None, limit=2)
    last = first_page[-1]
    second_page = await webhooks.deliveries.list_after(
        mine, Cursor(last.created_at, last.id), limit=2
    )
    assert [d.id for d in first_page + second_page] == [
        d.id for d in everything if d.endpoint_id == endpoints[0].id
    ]
    succeeded = DeliveryFilter(status=DeliveryStatus.SUCCEEDED)
    assert await webhooks.deliveries.list_after(succeeded, None, limit=10) == []


async def test_an_endpoint_reads_back_as_it_was_stored(webhooks: WebhookStore) -> None:
    at = now()
    endpoint = await an_endpoint(webhooks, CREATED, UPDATED, at=at)
    rotated = endpoint.rotate_secret(at + timedelta(seconds=1), timedelta(hours=1))
    assert await webhooks.endpoints.replace(rotated, expected_version=endpoint.version)

    stored = await webhooks.endpoints.get(rotated.id)

    assert stored == rotated
    assert stored is not None
    assert [secret.expires_at for secret in stored.secrets] == [
        at + timedelta(seconds=1, hours=1),
        None,
    ]
    assert await webhooks.endpoints.get(uuid4()) is None


async def test_the_webhook_migration_reverts_and_applies_again(
    empty_database_settings: Settings, database_server: DatabaseServer
) -> None:
    previous = database_server.revision_before(WEBHOOKS_REVISION)
    async with open_migrator(empty_database_settings) as migrator:
        await migrator.upgrade(WEBHOOKS_REVISION)
        assert await migrator.current() == WEBHOOKS_REVISION

        await migrator.downgrade(previous)
        assert await migrator.current() == previous

        await migrator.upgrade(WEBHOOKS_REVISION)
        assert await migrator.current() == WEBHOOKS_REVISION
    storage = open_storage(empty_database_settings)
    try:
        webhooks = open_webhook_store(storage)
        endpoint = await an_endpoint(webhooks)
        assert await announce(storage, OrderEvent.created(an_order())) == 1
        assert len(await deliveries_of(webhooks, endpoint)) == 1
    finally:
        await storage.close()
