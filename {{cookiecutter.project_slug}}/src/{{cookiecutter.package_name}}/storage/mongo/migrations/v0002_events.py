"""Outbox, inbox and the event consumer's tally: validated collections and their indexes.

Collections are created here, not on first write: a multi-document transaction
may not be the one to create the collection it writes to on every server.
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from {{ cookiecutter.package_name }}.storage.mongo.migrations import ensure_collection

OUTBOX_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": [
        "_id",
        "position",
        "aggregate_id",
        "aggregate_version",
        "type",
        "occurred_at",
        "data",
        "trace_context",
        "attempts",
    ],
    "properties": {
        "_id": {"bsonType": "binData"},
        "position": {"bsonType": "objectId"},
        "aggregate_id": {"bsonType": "binData"},
        "aggregate_version": {"bsonType": ["int", "long"], "minimum": 1},
        "type": {"bsonType": "string", "maxLength": 64},
        "occurred_at": {"bsonType": "date"},
        "data": {"bsonType": "object"},
        "trace_context": {"bsonType": "object"},
        "attempts": {"bsonType": ["int", "long"], "minimum": 0},
        "lease_owner": {"bsonType": ["string", "null"], "maxLength": 64},
        "lease_expires_at": {"bsonType": ["date", "null"]},
    },
}

PROCESSED_EVENT_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": ["_id", "consumer", "event_id", "processed_at"],
    "properties": {
        "_id": {"bsonType": "string"},
        "consumer": {"bsonType": "string", "maxLength": 100},
        "event_id": {"bsonType": "binData"},
        "processed_at": {"bsonType": "date"},
    },
}

CUSTOMER_ACTIVITY_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": ["_id", "orders_placed", "last_order_at"],
    "properties": {
        "_id": {"bsonType": "string", "maxLength": 64},
        "orders_placed": {"bsonType": ["int", "long"], "minimum": 1},
        "last_order_at": {"bsonType": "date"},
    },
}


async def up(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Create the three collections with their validators and indexes."""
    outbox = await ensure_collection(database, "outbox", OUTBOX_SCHEMA)
    await outbox.create_indexes(
        [
            IndexModel(
                [("aggregate_id", ASCENDING), ("aggregate_version", ASCENDING)],
                name="uq_outbox_aggregate_id_aggregate_version",
                unique=True,
            ),
            IndexModel([("position", ASCENDING)], name="ix_outbox_position"),
            IndexModel([("occurred_at", ASCENDING)], name="ix_outbox_occurred_at"),
        ]
    )
    processed = await ensure_collection(database, "processed_events", PROCESSED_EVENT_SCHEMA)
    await processed.create_indexes(
        [IndexModel([("processed_at", ASCENDING)], name="ix_processed_events_processed_at")]
    )
    await ensure_collection(database, "customer_activity", CUSTOMER_ACTIVITY_SCHEMA)


async def down(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Drop the three collections, their indexes with them."""
    for name in ("customer_activity", "processed_events", "outbox"):
        await database.drop_collection(name)
