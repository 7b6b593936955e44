"""Webhook endpoints, deliveries, their attempts and the inbound inbox on MongoDB.

The outbox writes an event's deliveries inside the unit of work's session (it
finds the subscribed active endpoints, then inserts one document per endpoint),
so they commit or abort with the order change. ``deliver`` workers lease due
deliveries with conditional updates that only one worker can win, and hold no
transaction while they send.

``failure_streak`` and ``failing_since`` belong to the deliverer: ``failed``
and ``recovered`` change them atomically, and change neither ``version`` nor
``updated_at`` (a failing endpoint would otherwise refuse every edit made
through the API). ``replace``, which the API calls with a version it read
earlier, therefore keeps the stored counts, except when it enables a disabled
endpoint: the domain forgets its failures then, and so does the document.
``failing_since`` is absent, never null, while there is no failure, so that
``failed`` sets it with ``$min`` in the same update that counts the failure.
"""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    SigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
    webhook_body,
)
from {{ cookiecutter.package_name }}.storage.mongo.client import (
    Database,
    Document,
    commit,
    transaction,
    translated_errors,
)
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError
from {{ cookiecutter.package_name }}.storage.webhooks import (
    ClaimedDelivery,
    DeliveryFilter,
    EndpointBacklog,
)

WEBHOOK_ENDPOINTS = "webhook_endpoints"
WEBHOOK_DELIVERIES = "webhook_deliveries"
WEBHOOK_DELIVERY_ATTEMPTS = "webhook_delivery_attempts"
RECEIVED_WEBHOOKS = "received_webhooks"

_ACTIVE = EndpointStatus.ACTIVE.value
_DISABLED = EndpointStatus.DISABLED.value
_PENDING = DeliveryStatus.PENDING.value
_FAILED = DeliveryStatus.FAILED.value
_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]
_MOST_OVERDUE_FIRST = [("next_attempt_at", ASCENDING), ("_id", ASCENDING)]
# Candidates read per claim, as a multiple of the batch: workers racing for the
# first ones go on to the next.
_CANDIDATE_WINDOW = 4
# A transaction that loses a write race with another one (an endpoint edited
# while a delivery is recorded, say) runs again, this many times in all.
_TRANSACTION_RUNS = 3


def _secret_document(secret: SigningSecret) -> Document:
    return {
        "value": secret.value,
        "created_at": secret.created_at,
        "expires_at": secret.expires_at,
    }


def _secret_from(document: Document) -> SigningSecret:
    return SigningSecret(
        value=document["value"],
        created_at=document["created_at"],
        expires_at=document["expires_at"],
    )


def _endpoint_fields(endpoint: WebhookEndpoint) -> Document:
    """What a caller may change: everything but the id and the failure counts."""
    return {
        "url": endpoint.url,
        "event_types": sorted(endpoint.event_types),
        "description": endpoint.description,
        "status": endpoint.status.value,
        "disabled_reason": endpoint.disabled_reason,
        "secrets": [_secret_document(secret) for secret in endpoint.secrets],
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "version": endpoint.version,
    }


def _failures(endpoint: WebhookEndpoint) -> Document:
    """The update that stores the endpoint's failure counts as it holds them."""
    if endpoint.failing_since is None:
        return {
            "$set": {"failure_streak": endpoint.failure_streak},
            "$unset": {"failing_since": ""},
        }
    return {
        "$set": {
            "failure_streak": endpoint.failure_streak,
            "failing_since": endpoint.failing_since,
        }
    }


def _endpoint_from(document: Document) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=document["_id"],
        url=document["url"],
        event_types=frozenset(document["event_types"]),
        description=document["description"],
        status=EndpointStatus(document["status"]),
        disabled_reason=document["disabled_reason"],
        secrets=tuple(_secret_from(secret) for secret in document["secrets"]),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        version=document["version"],
        failure_streak=document["failure_streak"],
        failing_since=document.get("failing_since"),
    )


def _delivery_state(delivery: WebhookDelivery) -> Document:
    """What an attempt changes in a delivery."""
    return {
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "updated_at": delivery.updated_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
    }


def _delivery_from(document: Document) -> WebhookDelivery:
    return WebhookDelivery(
        id=document["_id"],
        endpoint_id=document["endpoint_id"],
        event_id=document["event_id"],
        event_type=document["event_type"],
        body=document["body"],
        status=DeliveryStatus(document["status"]),
        attempts=document["attempts"],
        next_attempt_at=document["next_attempt_at"],
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        last_status_code=document["last_status_code"],
        last_error=document["last_error"],
    )


def _attempt_from(document: Document) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=document["delivery_id"],
        number=document["number"],
        attempted_at=document["attempted_at"],
        duration_seconds=document["duration_seconds"],
        status_code=document["status_code"],
        response_excerpt=document["response_excerpt"],
        error=document["error"],
    )


def _older_than(after: Cursor | None) -> Document:
    """Documents after ``after`` in newest-first order: (created_at, _id) < the cursor's."""
    if after is None:
        return {}
    return {
        "$or": [
            {"created_at": {"$lt": after.created_at}},
            {"created_at": after.created_at, "_id": {"$lt": after.id}},
        ]
    }


def _matching(delivery_filter: DeliveryFilter) -> Document:
    query: Document = {}
    if delivery_filter.endpoint_id is not None:
        query["endpoint_id"] = delivery_filter.endpoint_id
    if delivery_filter.status is not None:
        query["status"] = delivery_filter.status.value
    if delivery_filter.delivery_id is not None:
        query["_id"] = delivery_filter.delivery_id
    return query


def _lease_free(now: datetime) -> Document:
    return {"$or": [{"lease_expires_at": None}, {"lease_expires_at": {"$lt": now}}]}


async def _in_transaction[T](
    client: AsyncMongoClient[Document], work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """Run ``work`` in a transaction and commit it; again if it lost a write race."""
    for run in range(1, _TRANSACTION_RUNS + 1):
        try:
            async with transaction(client) as session:
                outcome = await work(session)
                await commit(session)
                return outcome
        except TransactionConflictError:
            if run == _TRANSACTION_RUNS:
                raise
    raise AssertionError  # pragma: no cover - the loop returns or raises


class MongoWebhookOutbox:
    """Deliveries inside the unit of work's transaction."""

    def __init__(self, database: Database, session: AsyncClientSession) -> None:
        self._endpoints = database[WEBHOOK_ENDPOINTS]
        self._deliveries = database[WEBHOOK_DELIVERIES]
        self._session = session

    async def add(self, event: OrderEvent) -> int:
        """One document per active endpoint subscribed to the event type.

        Every document carries the same body; each is due when the event happened.
        """
        subscribed = {
            "status": _ACTIVE,
            "$or": [{"event_types": {"$size": 0}}, {"event_types": event.type.value}],
        }
        body = webhook_body(event)
        with translated_errors():
            endpoint_ids = [
                document["_id"]
                async for document in self._endpoints.find(
                    subscribed, {"_id": 1}, session=self._session
                )
            ]
            if not endpoint_ids:
                return 0
            await self._deliveries.insert_many(
                [
                    {
                        "_id": uuid4(),
                        "endpoint_id": endpoint_id,
                        "event_id": event.id,
                        "event_type": event.type.value,
                        "body": body,
                        "status": _PENDING,
                        "attempts": 0,
                        "next_attempt_at": event.occurred_at,
                        "created_at": event.occurred_at,
                        "updated_at": event.occurred_at,
                        "last_status_code": None,
                        "last_error": None,
                        "lease_owner": None,
                        "lease_expires_at": None,
                    }
                    for endpoint_id in endpoint_ids
                ],
                session=self._session,
            )
        return len(endpoint_ids)


class MongoWebhookInbox:
    """Received webhook ids, inside the unit of work's transaction."""

    def __init__(self, database: Database, session: AsyncClientSession) -> None:
        self._received = database[RECEIVED_WEBHOOKS]
        self._session = session

    async def record(self, source: str, message_id: str, now: datetime) -> bool:
        """Upsert the id: an insert means new; a match means handled before.

        An upsert rather than an insert, because a duplicate-key error would
        abort the whole transaction; a concurrent duplicate gets a write conflict.
        """
        with translated_errors():
            result = await self._received.update_one(
                {"_id": {"source": source, "message_id": message_id}},
                {"$setOnInsert": {"received_at": now}},
                upsert=True,
                session=self._session,
            )
        return result.upserted_id is not None

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete ids received before ``cutoff``."""
        with translated_errors():
            result = await self._received.delete_many(
                {"received_at": {"$lt": cutoff}}, session=self._session
            )
        return result.deleted_count


class MongoWebhookEndpointStore:
    """Endpoints: one document each; a transaction where deliveries change with them."""

    def __init__(self, client: AsyncMongoClient[Document]) -> None:
        self._client = client
        database: Database = client.get_default_database()
        self._endpoints = database[WEBHOOK_ENDPOINTS]
        self._deliveries = database[WEBHOOK_DELIVERIES]
        self._attempts = database[WEBHOOK_DELIVERY_ATTEMPTS]

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Insert the endpoint; a clash of ids is ``AlreadyExistsError``."""
        document: Document = {"_id": endpoint.id, **_endpoint_fields(endpoint)}
        document["failure_streak"] = endpoint.failure_streak
        if endpoint.failing_since is not None:
            document["failing_since"] = endpoint.failing_since
        with translated_errors():
            await self._endpoints.insert_one(document)

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint, or ``None``."""
        with translated_errors():
            document = await self._endpoints.find_one({"_id": endpoint_id})
        return None if document is None else _endpoint_from(document)

    async def list_after(self, after: Cursor | None, *, limit: int) -> list[WebhookEndpoint]:
        """Endpoints, newest first, strictly after ``after`` (keyset pagination)."""
        with translated_errors():
            found = self._endpoints.find(_older_than(after), sort=_NEWEST_FIRST, limit=limit)
            return [_endpoint_from(document) async for document in found]

    async def replace(self, endpoint: WebhookEndpoint, *, expected_version: int) -> bool:
        """Compare-and-set on the version; a disabled endpoint fails its pending deliveries.

        The failure counts are written only when a disabled endpoint is enabled
        again (see the module's docstring).
        """
        current = {"_id": endpoint.id, "version": expected_version}
        fields = {"$set": _endpoint_fields(endpoint)}
        if endpoint.status is EndpointStatus.ACTIVE:
            with translated_errors():
                kept = await self._endpoints.update_one({**current, "status": _ACTIVE}, fields)
                if kept.matched_count == 1:
                    return True
                failures = _failures(endpoint)
                enabled = {
                    "$set": fields["$set"] | failures["$set"],
                    **({"$unset": failures["$unset"]} if "$unset" in failures else {}),
                }
                result = await self._endpoints.update_one(
                    {**current, "status": {"$ne": _ACTIVE}}, enabled
                )
            return result.matched_count == 1

        async def disable(session: AsyncClientSession) -> bool:
            result = await self._endpoints.update_one(current, fields, session=session)
            if result.matched_count != 1:
                return False
            reason = endpoint.disabled_reason or "no reason given"
            await self._deliveries.update_many(
                {"endpoint_id": endpoint.id, "status": _PENDING},
                {
                    "$set": {
                        "status": _FAILED,
                        "next_attempt_at": None,
                        "last_error": f"endpoint disabled: {reason}",
                        "updated_at": endpoint.updated_at,
                    }
                },
                session=session,
            )
            return True

        with translated_errors():
            return await _in_transaction(self._client, disable)

    async def delete(self, endpoint_id: UUID) -> bool:
        """Delete the endpoint, its deliveries and their attempts, in one transaction."""

        async def cascade(session: AsyncClientSession) -> bool:
            result = await self._endpoints.delete_one({"_id": endpoint_id}, session=session)
            if result.deleted_count != 1:
                return False
            owned = {"endpoint_id": endpoint_id}
            await self._attempts.delete_many(owned, session=session)
            await self._deliveries.delete_many(owned, session=session)
            return True

        with translated_errors():
            return await _in_transaction(self._client, cascade)

    async def failed(self, endpoint_id: UUID, now: datetime) -> WebhookEndpoint | None:
        """One more failure in a row, counted in one update (no lost update)."""
        with translated_errors():
            document = await self._endpoints.find_one_and_update(
                {"_id": endpoint_id},
                {"$inc": {"failure_streak": 1}, "$min": {"failing_since": now}},
                return_document=ReturnDocument.AFTER,
            )
        return None if document is None else _endpoint_from(document)

    async def recovered(self, endpoint_id: UUID) -> None:
        """Reset the failure counts, writing only when there is something to reset."""
        with translated_errors():
            await self._endpoints.update_one(
                {"_id": endpoint_id, "failure_streak": {"$gt": 0}},
                {"$set": {"failure_streak": 0}, "$unset": {"failing_since": ""}},
            )


class MongoWebhookDeliveryStore:
    """Deliveries and attempts; leases, like the outbox relay's, by conditional updates."""

    def __init__(self, client: AsyncMongoClient[Document]) -> None:
        self._client = client
        database: Database = client.get_default_database()
        self._endpoints = database[WEBHOOK_ENDPOINTS]
        self._deliveries = database[WEBHOOK_DELIVERIES]
        self._attempts = database[WEBHOOK_DELIVERY_ATTEMPTS]

    def _due(self, now: datetime) -> Document:
        return {"status": _PENDING, "next_attempt_at": {"$lte": now}, **_lease_free(now)}

    async def claim(
        self, owner: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[ClaimedDelivery]:
        """Lease the most overdue free deliveries of active endpoints, with their endpoints.

        Candidates are leased a chunk at a time by an update that matches only
        deliveries still free, so each goes to one worker; the ones a concurrent
        worker won are skipped and the next chunk is tried. Disabled endpoints
        are few (their pending deliveries fail when they are disabled), so they
        are left out by id.
        """
        until = now + lease
        won: list[Document] = []
        with translated_errors():
            disabled = [
                document["_id"]
                async for document in self._endpoints.find({"status": _DISABLED}, {"_id": 1})
            ]
            candidates = [
                document["_id"]
                async for document in self._deliveries.find(
                    {**self._due(now), "endpoint_id": {"$nin": disabled}},
                    {"_id": 1},
                    sort=_MOST_OVERDUE_FIRST,
                    limit=limit * _CANDIDATE_WINDOW,
                )
            ]
            while candidates and len(won) < limit:
                chunk, candidates = candidates[: limit - len(won)], candidates[limit - len(won) :]
                await self._deliveries.update_many(
                    {"_id": {"$in": chunk}, **self._due(now)},
                    {"$set": {"lease_owner": owner, "lease_expires_at": until}},
                )
                leased = self._deliveries.find(
                    {"_id": {"$in": chunk}, "lease_owner": owner, "lease_expires_at": until}
                )
                won.extend([document async for document in leased])
            endpoint_ids = list({document["endpoint_id"] for document in won})
            endpoints = {
                document["_id"]: _endpoint_from(document)
                async for document in self._endpoints.find({"_id": {"$in": endpoint_ids}})
            }
            # Written by an order change that raced the endpoint's deletion: nowhere to go.
            orphans = [
                document["_id"] for document in won if document["endpoint_id"] not in endpoints
            ]
            if orphans:
                await self._deliveries.delete_many({"_id": {"$in": orphans}, "lease_owner": owner})
        won.sort(key=lambda document: (document["next_attempt_at"], document["_id"]))
        return [
            ClaimedDelivery(_delivery_from(document), endpoints[document["endpoint_id"]])
            for document in won
            if document["endpoint_id"] in endpoints
        ]

    async def record_attempt(
        self, owner: str, delivery: WebhookDelivery, attempt: DeliveryAttempt
    ) -> bool:
        """Store the delivery's new state and its attempt in one transaction, ending the lease.

        A delivery failed meanwhile (its endpoint was disabled) stays failed
        unless the attempt succeeded; the attempt is kept either way.
        """
        leased = {"_id": delivery.id, "lease_owner": owner}

        async def record(session: AsyncClientSession) -> bool:
            stored = await self._deliveries.find_one(leased, {"status": 1}, session=session)
            if stored is None:
                return False
            state = _delivery_state(delivery)
            if stored["status"] == _FAILED and delivery.status is DeliveryStatus.PENDING:
                state = {
                    key: value
                    for key, value in state.items()
                    if key not in {"status", "last_error"}
                } | {"next_attempt_at": None}
            await self._deliveries.update_one(
                leased,
                {"$set": state | {"lease_owner": None, "lease_expires_at": None}},
                session=session,
            )
            await self._attempts.insert_one(
                {
                    "endpoint_id": delivery.endpoint_id,
                    "delivery_id": attempt.delivery_id,
                    "number": attempt.number,
                    "attempted_at": attempt.attempted_at,
                    "duration_seconds": attempt.duration_seconds,
                    "status_code": attempt.status_code,
                    "response_excerpt": attempt.response_excerpt,
                    "error": attempt.error,
                },
                session=session,
            )
            return True

        with translated_errors():
            return await _in_transaction(self._client, record)

    async def release(self, owner: str, delivery_ids: Sequence[UUID]) -> None:
        """End ``owner``'s leases at once; the deliveries are due again now."""
        with translated_errors():
            await self._deliveries.update_many(
                {"_id": {"$in": list(delivery_ids)}, "lease_owner": owner},
                {"$set": {"lease_owner": None, "lease_expires_at": None}},
            )

    async def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        """The delivery, or ``None``."""
        with translated_errors():
            document = await self._deliveries.find_one({"_id": delivery_id})
        return None if document is None else _delivery_from(document)

    async def list_after(
        self, delivery_filter: DeliveryFilter, after: Cursor | None, *, limit: int
    ) -> list[WebhookDelivery]:
        """Matching deliveries, newest first, strictly after ``after`` (keyset pagination)."""
        query = _matching(delivery_filter) | _older_than(after)
        with translated_errors():
            found = self._deliveries.find(query, sort=_NEWEST_FIRST, limit=limit)
            return [_delivery_from(document) async for document in found]

    async def attempts(self, delivery_id: UUID) -> list[DeliveryAttempt]:
        """Every attempt of the delivery, first first."""
        with translated_errors():
            found = self._attempts.find(
                {"delivery_id": delivery_id}, sort=[("attempted_at", ASCENDING)]
            )
            return [_attempt_from(document) async for document in found]

    async def replay(self, delivery_filter: DeliveryFilter, now: datetime, *, limit: int) -> int:
        """Make up to ``limit`` failed deliveries, oldest first, pending and due at ``now``.

        The last status code and error stay, for whoever looks at them before the
        next attempt; earlier attempts stay too. Each update matches only a
        delivery still failed, so two replays count each delivery once.
        """
        query = _matching(delivery_filter) | {"status": _FAILED}
        with translated_errors():
            chosen = [
                document["_id"]
                async for document in self._deliveries.find(
                    query,
                    {"_id": 1},
                    sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
                    limit=limit,
                )
            ]
            if not chosen:
                return 0
            result = await self._deliveries.update_many(
                {"_id": {"$in": chosen}, "status": _FAILED},
                {
                    "$set": {
                        "status": _PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "updated_at": now,
                    }
                },
            )
        return result.modified_count

    async def backlog(self, now: datetime) -> list[EndpointBacklog]:
        """Pending deliveries per endpoint, and how long the most overdue has been due."""
        pipeline: list[Document] = [
            {"$match": {"status": _PENDING}},
            {
                "$group": {
                    "_id": "$endpoint_id",
                    "pending": {"$sum": 1},
                    "oldest": {"$min": "$next_attempt_at"},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        with translated_errors():
            groups = [group async for group in await self._deliveries.aggregate(pipeline)]
        return [
            EndpointBacklog(
                endpoint_id=group["_id"],
                pending=group["pending"],
                oldest_due_age_seconds=(
                    0.0
                    if group["oldest"] is None
                    else max((now - group["oldest"]).total_seconds(), 0.0)
                ),
            )
            for group in groups
        ]


class MongoWebhookStore:
    """The webhooks port on the storage adapter's client (its pool is shared)."""

    def __init__(self, client: AsyncMongoClient[Document]) -> None:
        self.endpoints = MongoWebhookEndpointStore(client)
        self.deliveries = MongoWebhookDeliveryStore(client)
