"""The storage port on MongoDB, through PyMongo's native async API.

Reads run outside transactions on the pooled client; writes run in one
multi-document transaction per unit of work, committed with majority write
concern. Driver errors never leave this module: they become the service's own
errors.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID

import pymongo
from pymongo import DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError, IdempotencyKeyInUseError
from {{ cookiecutter.package_name }}.domain.orders import Order, OrderLine, OrderStatus
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.mongo.client import (
    Database,
    Document,
    commit,
    create_client,
    transaction,
    translated_errors,
)
from {{ cookiecutter.package_name }}.storage.mongo.webhooks import MongoWebhookInbox, MongoWebhookOutbox
from {{ cookiecutter.package_name }}.storage.port import (
    OrderFilter,
    Outbox,
    StoredResult,
    TransactionConflictError,
)

ORDERS = "orders"
IDEMPOTENCY_KEYS = "idempotency_keys"

# A ping's own deadline: below the probes' readiness timeout (2 s).
PING_TIMEOUT_SECONDS = 1.5

# How a unit of work gets its outbox: the broker's collection, or none without a broker.
OutboxFactory = Callable[[Database, AsyncClientSession], Outbox]

_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


def _order_from_document(document: Document) -> Order:
    return Order(
        id=document["_id"],
        customer_id=document["customer_id"],
        currency=document["currency"],
        lines=tuple(OrderLine(**line) for line in document["lines"]),
        status=OrderStatus(document["status"]),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        version=document["version"],
    )


def _order_document(order: Order) -> Document:
    return {
        "_id": order.id,
        "customer_id": order.customer_id,
        "currency": order.currency,
        "status": order.status.value,
        "lines": [line.snapshot() for line in order.lines],
        "total_minor": order.total_minor,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "version": order.version,
    }


def _matching(order_filter: OrderFilter) -> Document:
    query: Document = {}
    if order_filter.status is not None:
        query["status"] = order_filter.status.value
    if order_filter.customer_id is not None:
        query["customer_id"] = order_filter.customer_id
    return query


def _older_than(cursor: Cursor) -> Document:
    """Orders after ``cursor`` in newest-first order: (created_at, _id) < the cursor's."""
    return {
        "$or": [
            {"created_at": {"$lt": cursor.created_at}},
            {"created_at": cursor.created_at, "_id": {"$lt": cursor.id}},
        ]
    }


class MongoOrderReader:
    """Order reads, outside any transaction."""

    def __init__(self, orders: AsyncCollection[Document]) -> None:
        self._orders = orders

    async def _fetch(self, query: Document, *, skip: int = 0, limit: int) -> list[Order]:
        with translated_errors():
            found = self._orders.find(query, sort=_NEWEST_FIRST, skip=skip, limit=limit)
            return [_order_from_document(document) async for document in found]

    async def get(self, order_id: UUID) -> Order | None:
        """The order, or ``None``."""
        with translated_errors():
            document = await self._orders.find_one({"_id": order_id})
        return None if document is None else _order_from_document(document)

    async def count(self, order_filter: OrderFilter) -> int:
        """How many orders match."""
        with translated_errors():
            return await self._orders.count_documents(_matching(order_filter))

    async def list_by_offset(
        self, order_filter: OrderFilter, *, offset: int, limit: int
    ) -> list[Order]:
        """Matches, newest first, from ``offset``."""
        return await self._fetch(_matching(order_filter), skip=offset, limit=limit)

    async def list_after(
        self, order_filter: OrderFilter, *, after: Cursor | None, limit: int
    ) -> list[Order]:
        """Matches, newest first, strictly after ``after`` (keyset pagination)."""
        query = _matching(order_filter)
        if after is not None:
            query |= _older_than(after)
        return await self._fetch(query, limit=limit)


class MongoOrderWriter:
    """Order writes inside the unit of work's transaction."""

    def __init__(self, orders: AsyncCollection[Document], session: AsyncClientSession) -> None:
        self._orders = orders
        self._session = session

    async def add(self, order: Order) -> None:
        """Insert a new order."""
        with translated_errors():
            await self._orders.insert_one(_order_document(order), session=self._session)

    async def replace(self, order: Order, *, expected_version: int) -> bool:
        """Compare-and-set on the version.

        While another transaction holds an uncommitted write to the order, this
        one fails with a write conflict (``TransactionConflictError``): the
        whole unit of work runs again once that one has ended.
        """
        with translated_errors():
            result = await self._orders.replace_one(
                {"_id": order.id, "version": expected_version},
                _order_document(order),
                session=self._session,
            )
        return result.matched_count == 1

    async def delete(self, order_id: UUID, *, expected_version: int) -> bool:
        """Delete if still at ``expected_version`` (a write conflict as in :meth:`replace`)."""
        with translated_errors():
            result = await self._orders.delete_one(
                {"_id": order_id, "version": expected_version}, session=self._session
            )
        return result.deleted_count == 1


class MongoIdempotencyStore:
    """Idempotency keys held by an uncommitted write in the unit of work's transaction.

    Claiming a key writes its document inside the transaction. MongoDB lets one
    transaction at a time hold an uncommitted write to a document; another one
    that writes it meanwhile fails at once with a write conflict, and that is
    the in-flight signal. When the unit of work ends without commit its write
    is rolled back, so an abandoned claim frees the key; a process that dies
    mid-request frees it when the server aborts its transaction (at the latest
    after ``transactionLifetimeLimitSeconds``, 60 s by default).
    """

    def __init__(self, keys: AsyncCollection[Document], session: AsyncClientSession) -> None:
        self._keys = keys
        self._session = session

    async def claim(self, scope: str, key: str, now: datetime) -> StoredResult | None:
        """Write the key's document (or fail at once) and return its unexpired result."""
        try:
            with translated_errors():
                before = await self._keys.find_one_and_update(
                    {"scope": scope, "key": key},
                    {"$set": {"claimed_at": now}, "$setOnInsert": {"expires_at": now}},
                    upsert=True,
                    return_document=ReturnDocument.BEFORE,
                    session=self._session,
                )
        except (TransactionConflictError, AlreadyExistsError) as error:
            raise IdempotencyKeyInUseError from error
        if before is None or "fingerprint" not in before or before["expires_at"] <= now:
            return None
        return StoredResult(fingerprint=before["fingerprint"], result=before["result"])

    async def record(
        self,
        scope: str,
        key: str,
        *,
        fingerprint: str,
        result: dict[str, Any],
        expires_at: datetime,
    ) -> None:
        """Store the outcome, replacing an expired one under the same key."""
        outcome = {
            "fingerprint": fingerprint,
            "result": result,
            "created_at": datetime.now(UTC),
            "expires_at": expires_at,
        }
        with translated_errors():
            await self._keys.update_one(
                {"scope": scope, "key": key},
                {"$set": outcome},
                upsert=True,
                session=self._session,
            )

    async def purge_expired(self, now: datetime) -> int:
        """Delete expired outcomes (and claims that never recorded one)."""
        with translated_errors():
            result = await self._keys.delete_many(
                {"expires_at": {"$lte": now}}, session=self._session
            )
        return result.deleted_count


class MongoUnitOfWork:
    """One multi-document transaction on one session."""

    def __init__(
        self, database: Database, session: AsyncClientSession, outbox: OutboxFactory
    ) -> None:
        self._session = session
        self.orders = MongoOrderWriter(database[ORDERS], session)
        self.idempotency = MongoIdempotencyStore(database[IDEMPOTENCY_KEYS], session)
        self.outbox = outbox(database, session)
        self.webhooks = MongoWebhookOutbox(database, session)
        self.webhook_inbox = MongoWebhookInbox(database, session)

    async def commit(self) -> None:
        """Commit the transaction."""
        await commit(self._session)


class MongoStorage:
    """The storage port on a pooled async client.

    ``client`` and ``database`` are public for the other adapters of this
    database (events, API keys, webhooks), which share its pool.
    """

    def __init__(self, client: AsyncMongoClient[Document], *, outbox: OutboxFactory) -> None:
        self.client = client
        self.database: Database = client.get_default_database()
        self.orders = MongoOrderReader(self.database[ORDERS])
        self._outbox = outbox

    @classmethod
    def from_settings(cls, settings: Settings, *, outbox: OutboxFactory) -> Self:
        """Build the client; connections open lazily, on first use."""
        return cls(create_client(settings), outbox=outbox)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MongoUnitOfWork]:
        """A transaction; leaving without commit aborts it."""
        async with transaction(self.client) as session:
            yield MongoUnitOfWork(self.database, session, self._outbox)

    async def ping(self) -> None:
        """Round-trip a trivial command, ended by the driver's own deadline.

        The deadline is shorter than any readiness timeout, so PyMongo gives up
        (and closes the socket it was connecting) before a caller cancels it: a
        connect cancelled from outside leaves its socket open (PyMongo 4.20).
        """
        with translated_errors(), pymongo.timeout(PING_TIMEOUT_SECONDS):
            await self.database.command("ping")

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.client.close()
