"""Outbox, inbox and the consumer's tally on MongoDB.

The outbox and inbox writers share the unit of work's session, so an event
document commits or aborts with the change it describes. The relay claims
documents by leasing them: a conditional update per document, which only one
relay can win, and no transaction held while it publishes.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from uuid import UUID

from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.observability.tracing import trace_headers
from {{ cookiecutter.package_name }}.storage.events import CustomerActivity, OutboxBacklog, PendingEvent
from {{ cookiecutter.package_name }}.storage.mongo.client import (
    Database,
    Document,
    commit,
    transaction,
    translated_errors,
)

OUTBOX = "outbox"
PROCESSED_EVENTS = "processed_events"
CUSTOMER_ACTIVITY = "customer_activity"

# Write order: ObjectIds grow within a process and by the second across processes.
_OLDEST_FIRST = [("position", 1)]
# Candidates read per claim, as a multiple of the batch: events queued behind an
# order's leased head are skipped, and the window leaves room for them.
_CANDIDATE_WINDOW = 4


def _free(now: datetime) -> Document:
    return {"$or": [{"lease_expires_at": None}, {"lease_expires_at": {"$lt": now}}]}


def _pending(document: Document) -> PendingEvent:
    event = OrderEvent(
        id=document["_id"],
        type=OrderEventType(document["type"]),
        order_id=document["aggregate_id"],
        version=document["aggregate_version"],
        occurred_at=document["occurred_at"],
        data=document["data"],
    )
    return PendingEvent(
        event=event, trace_context=document["trace_context"], attempts=document["attempts"]
    )


class MongoOutbox:
    """Event documents inside the unit of work's transaction."""

    def __init__(self, database: Database, session: AsyncClientSession) -> None:
        self._outbox = database[OUTBOX]
        self._session = session

    async def add(self, event: OrderEvent) -> None:
        """Insert the event, with the current trace; the relay sees it once committed."""
        document: Document = {
            "_id": event.id,
            "position": ObjectId(),
            "aggregate_id": event.order_id,
            "aggregate_version": event.version,
            "type": event.type.value,
            "occurred_at": event.occurred_at,
            "data": event.data,
            "trace_context": trace_headers(),
            "attempts": 0,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        with translated_errors():
            await self._outbox.insert_one(document, session=self._session)


class MongoOutboxRelayStore:
    """Leased claims on the outbox."""

    def __init__(self, database: Database) -> None:
        self._outbox = database[OUTBOX]

    async def _heads(self, now: datetime, limit: int) -> list[UUID]:
        """Free events, oldest first, that are the oldest pending event of their order.

        Up to ``limit`` times the candidate window, so that relays racing for the
        first ones can go on to the next.
        """
        candidates = [
            document
            async for document in self._outbox.find(
                _free(now),
                {"aggregate_id": 1, "aggregate_version": 1},
                sort=_OLDEST_FIRST,
                limit=limit * _CANDIDATE_WINDOW,
            )
        ]
        orders = list({document["aggregate_id"] for document in candidates})
        first_version: dict[UUID, int] = {}
        async for document in self._outbox.find(
            {"aggregate_id": {"$in": orders}}, {"aggregate_id": 1, "aggregate_version": 1}
        ):
            order, version = document["aggregate_id"], document["aggregate_version"]
            first_version[order] = min(version, first_version.get(order, version))
        return [
            document["_id"]
            for document in candidates
            if document["aggregate_version"] == first_version[document["aggregate_id"]]
        ]

    async def claim(
        self, owner: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingEvent]:
        """Lease the oldest claimable events; each document goes to one relay only.

        Heads are leased a chunk at a time with a conditional update; the ones a
        concurrent relay won are skipped and the next chunk is tried.
        """
        until = now + lease
        won: list[PendingEvent] = []
        with translated_errors():
            heads = await self._heads(now, limit)
            while heads and len(won) < limit:
                chunk, heads = heads[: limit - len(won)], heads[limit - len(won) :]
                await self._outbox.update_many(
                    {"_id": {"$in": chunk}, **_free(now)},
                    {
                        "$set": {"lease_owner": owner, "lease_expires_at": until},
                        "$inc": {"attempts": 1},
                    },
                )
                leased = self._outbox.find(
                    {"_id": {"$in": chunk}, "lease_owner": owner, "lease_expires_at": until},
                    sort=_OLDEST_FIRST,
                )
                won.extend([_pending(document) async for document in leased])
        return won

    async def complete(self, owner: str, event_ids: Sequence[UUID]) -> int:
        """Delete the published events, unless their lease passed to another relay."""
        with translated_errors():
            result = await self._outbox.delete_many(
                {"_id": {"$in": list(event_ids)}, "lease_owner": owner}
            )
        return result.deleted_count

    async def release(self, owner: str, event_ids: Sequence[UUID]) -> None:
        """End the lease at once, so the next claim (by anyone) retries the events."""
        with translated_errors():
            await self._outbox.update_many(
                {"_id": {"$in": list(event_ids)}, "lease_owner": owner},
                {"$set": {"lease_owner": None, "lease_expires_at": None}},
            )

    async def backlog(self, now: datetime) -> OutboxBacklog:
        """Count and age of the unpublished events."""
        with translated_errors():
            pending = await self._outbox.count_documents({})
            oldest = await self._outbox.find_one({}, {"occurred_at": 1}, sort=[("occurred_at", 1)])
        age = 0.0 if oldest is None else max((now - oldest["occurred_at"]).total_seconds(), 0.0)
        return OutboxBacklog(pending=pending, oldest_age_seconds=age)


class MongoInbox:
    """Handled event ids, inside the unit of work's transaction."""

    def __init__(self, processed: AsyncCollection[Document], session: AsyncClientSession) -> None:
        self._processed = processed
        self._session = session

    async def record(self, consumer: str, event_id: UUID, now: datetime) -> bool:
        """Upsert the id: an insert means new; a match means handled before.

        An upsert rather than an insert, because a duplicate-key error would
        abort the whole transaction; a concurrent duplicate gets a write conflict.
        """
        with translated_errors():
            result = await self._processed.update_one(
                {"_id": f"{consumer}/{event_id}"},
                {"$setOnInsert": {"consumer": consumer, "event_id": event_id, "processed_at": now}},
                upsert=True,
                session=self._session,
            )
        return result.upserted_id is not None

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete ids handled before ``cutoff``."""
        with translated_errors():
            result = await self._processed.delete_many(
                {"processed_at": {"$lt": cutoff}}, session=self._session
            )
        return result.deleted_count


class MongoCustomerActivityWriter:
    """The tally, inside the unit of work's transaction."""

    def __init__(self, activity: AsyncCollection[Document], session: AsyncClientSession) -> None:
        self._activity = activity
        self._session = session

    async def order_placed(self, customer_id: str, at: datetime) -> None:
        """Upsert: one more order, and the latest time seen."""
        with translated_errors():
            await self._activity.update_one(
                {"_id": customer_id},
                {"$inc": {"orders_placed": 1}, "$max": {"last_order_at": at}},
                upsert=True,
                session=self._session,
            )


class MongoCustomerActivityReader:
    """The tally, read outside any transaction."""

    def __init__(self, database: Database) -> None:
        self._activity = database[CUSTOMER_ACTIVITY]

    async def get(self, customer_id: str) -> CustomerActivity | None:
        """One customer's tally."""
        with translated_errors():
            document = await self._activity.find_one({"_id": customer_id})
        if document is None:
            return None
        return CustomerActivity(
            customer_id=document["_id"],
            orders_placed=document["orders_placed"],
            last_order_at=document["last_order_at"],
        )


class MongoConsumerUnitOfWork:
    """One consumer transaction on one session."""

    def __init__(self, database: Database, session: AsyncClientSession) -> None:
        self._session = session
        self.inbox = MongoInbox(database[PROCESSED_EVENTS], session)
        self.customer_activity = MongoCustomerActivityWriter(database[CUSTOMER_ACTIVITY], session)

    async def commit(self) -> None:
        """Commit the transaction."""
        await commit(self._session)


class MongoEventStore:
    """The events port on the storage adapter's client (its pool is shared)."""

    def __init__(self, client: AsyncMongoClient[Document]) -> None:
        self._client = client
        self._database: Database = client.get_default_database()
        self.outbox = MongoOutboxRelayStore(self._database)
        self.customer_activity = MongoCustomerActivityReader(self._database)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MongoConsumerUnitOfWork]:
        """A transaction; leaving without commit aborts it."""
        async with transaction(self._client) as session:
            yield MongoConsumerUnitOfWork(self._database, session)
