"""Webhook endpoints, their deliveries and attempts, and the ids of webhooks received.

Collections are created here, not on first write: the outbox writes deliveries
inside the order's transaction, which may not be the one to create the
collection on every server. The number follows the API key migration's
(``v0003``), which a service without API keys does not have: the migrator
orders modules by number and needs no unbroken sequence.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from {{ cookiecutter.package_name }}.storage.mongo.migrations import ensure_collection

_DATE_OR_NULL = {"bsonType": ["date", "null"]}

ENDPOINT_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": [
        "_id",
        "url",
        "event_types",
        "description",
        "status",
        "disabled_reason",
        "secrets",
        "created_at",
        "updated_at",
        "version",
        "failure_streak",
    ],
    "additionalProperties": False,
    "properties": {
        "_id": {"bsonType": "binData"},
        "url": {"bsonType": "string", "minLength": 1, "maxLength": 2048},
        "event_types": {"bsonType": "array", "items": {"bsonType": "string", "maxLength": 64}},
        "description": {"bsonType": "string", "maxLength": 500},
        "status": {"enum": ["active", "disabled"]},
        "disabled_reason": {"bsonType": ["string", "null"], "maxLength": 500},
        "secrets": {
            "bsonType": "array",
            "items": {
                "bsonType": "object",
                "required": ["value", "created_at", "expires_at"],
                "additionalProperties": False,
                "properties": {
                    "value": {"bsonType": "string", "minLength": 1},
                    "created_at": {"bsonType": "date"},
                    "expires_at": _DATE_OR_NULL,
                },
            },
        },
        "created_at": {"bsonType": "date"},
        "updated_at": {"bsonType": "date"},
        "version": {"bsonType": ["int", "long"], "minimum": 1},
        "failure_streak": {"bsonType": ["int", "long"], "minimum": 0},
        # Absent while the endpoint has no failure: ``failed`` sets it with ``$min``.
        "failing_since": {"bsonType": "date"},
    },
}

DELIVERY_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": [
        "_id",
        "endpoint_id",
        "event_id",
        "event_type",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ],
    "additionalProperties": False,
    "properties": {
        "_id": {"bsonType": "binData"},
        "endpoint_id": {"bsonType": "binData"},
        "event_id": {"bsonType": "binData"},
        "event_type": {"bsonType": "string", "maxLength": 64},
        "body": {"bsonType": "string"},
        "status": {"enum": ["pending", "succeeded", "failed"]},
        "attempts": {"bsonType": ["int", "long"], "minimum": 0},
        "next_attempt_at": _DATE_OR_NULL,
        "created_at": {"bsonType": "date"},
        "updated_at": {"bsonType": "date"},
        "last_status_code": {"bsonType": ["int", "long", "null"]},
        "last_error": {"bsonType": ["string", "null"]},
        "lease_owner": {"bsonType": ["string", "null"], "maxLength": 64},
        "lease_expires_at": _DATE_OR_NULL,
    },
}

ATTEMPT_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": [
        "endpoint_id",
        "delivery_id",
        "number",
        "attempted_at",
        "duration_seconds",
        "response_excerpt",
    ],
    "properties": {
        "endpoint_id": {"bsonType": "binData"},
        "delivery_id": {"bsonType": "binData"},
        "number": {"bsonType": ["int", "long"], "minimum": 1},
        "attempted_at": {"bsonType": "date"},
        "duration_seconds": {"bsonType": ["double", "int", "long"], "minimum": 0},
        "status_code": {"bsonType": ["int", "long", "null"]},
        "response_excerpt": {"bsonType": "string"},
        "error": {"bsonType": ["string", "null"]},
    },
}

RECEIVED_WEBHOOK_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": ["_id", "received_at"],
    "properties": {
        "_id": {
            "bsonType": "object",
            "required": ["source", "message_id"],
            "properties": {
                "source": {"bsonType": "string", "maxLength": 100},
                "message_id": {"bsonType": "string", "maxLength": 255},
            },
        },
        "received_at": {"bsonType": "date"},
    },
}

NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


async def up(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Create the four collections with their validators and indexes."""
    endpoints = await ensure_collection(database, "webhook_endpoints", ENDPOINT_SCHEMA)
    await endpoints.create_indexes(
        [
            IndexModel(NEWEST_FIRST, name="ix_webhook_endpoints_created_at_id"),
            IndexModel([("status", ASCENDING)], name="ix_webhook_endpoints_status"),
        ]
    )
    deliveries = await ensure_collection(database, "webhook_deliveries", DELIVERY_SCHEMA)
    await deliveries.create_indexes(
        [
            IndexModel(
                [("endpoint_id", ASCENDING), ("event_id", ASCENDING)],
                name="uq_webhook_deliveries_endpoint_id_event_id",
                unique=True,
            ),
            IndexModel(NEWEST_FIRST, name="ix_webhook_deliveries_created_at_id"),
            IndexModel(
                [("endpoint_id", ASCENDING), *NEWEST_FIRST],
                name="ix_webhook_deliveries_endpoint_id_created_at_id",
            ),
            IndexModel(
                [("status", ASCENDING), *NEWEST_FIRST],
                name="ix_webhook_deliveries_status_created_at_id",
            ),
            # What the workers claim: pending deliveries, by when they are due.
            IndexModel(
                [("status", ASCENDING), ("next_attempt_at", ASCENDING), ("_id", ASCENDING)],
                name="ix_webhook_deliveries_status_next_attempt_at",
            ),
        ]
    )
    attempts = await ensure_collection(database, "webhook_delivery_attempts", ATTEMPT_SCHEMA)
    await attempts.create_indexes(
        [
            IndexModel(
                # A replay starts the schedule again, numbers too: an attempt is known by its time.
                [("delivery_id", ASCENDING), ("attempted_at", ASCENDING)],
                name="uq_webhook_delivery_attempts_delivery_id_attempted_at",
                unique=True,
            ),
            IndexModel(
                [("endpoint_id", ASCENDING)], name="ix_webhook_delivery_attempts_endpoint_id"
            ),
        ]
    )
    received = await ensure_collection(database, "received_webhooks", RECEIVED_WEBHOOK_SCHEMA)
    await received.create_indexes(
        [IndexModel([("received_at", ASCENDING)], name="ix_received_webhooks_received_at")]
    )


async def down(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Drop the four collections, their indexes with them."""
    for name in (
        "received_webhooks",
        "webhook_delivery_attempts",
        "webhook_deliveries",
        "webhook_endpoints",
    ):
        await database.drop_collection(name)
