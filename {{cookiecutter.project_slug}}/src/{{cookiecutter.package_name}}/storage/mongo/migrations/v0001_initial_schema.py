"""Orders and idempotency keys: validated collections and their indexes."""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from {{ cookiecutter.package_name }}.storage.mongo.migrations import ensure_collection

ORDER_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": [
        "_id",
        "customer_id",
        "currency",
        "status",
        "lines",
        "total_minor",
        "created_at",
        "updated_at",
        "version",
    ],
    "additionalProperties": False,
    "properties": {
        "_id": {"bsonType": "binData"},
        "customer_id": {"bsonType": "string", "minLength": 1, "maxLength": 64},
        "currency": {"bsonType": "string", "minLength": 3, "maxLength": 3},
        "status": {"enum": ["pending", "confirmed", "shipped", "cancelled"]},
        "lines": {
            "bsonType": "array",
            "minItems": 1,
            "items": {
                "bsonType": "object",
                "required": ["sku", "quantity", "unit_price_minor"],
                "additionalProperties": False,
                "properties": {
                    "sku": {"bsonType": "string", "minLength": 1},
                    "quantity": {"bsonType": ["int", "long"], "minimum": 1},
                    "unit_price_minor": {"bsonType": ["int", "long"], "minimum": 0},
                },
            },
        },
        "total_minor": {"bsonType": ["int", "long"], "minimum": 0},
        "created_at": {"bsonType": "date"},
        "updated_at": {"bsonType": "date"},
        "version": {"bsonType": ["int", "long"], "minimum": 1},
    },
}

IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": ["scope", "key", "claimed_at", "expires_at"],
    "properties": {
        "scope": {"bsonType": "string", "maxLength": 200},
        "key": {"bsonType": "string", "maxLength": 255},
        "claimed_at": {"bsonType": "date"},
        "expires_at": {"bsonType": "date"},
        "fingerprint": {"bsonType": "string", "maxLength": 64},
        "result": {"bsonType": "object"},
        "created_at": {"bsonType": "date"},
    },
}

NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


async def up(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Create both collections with their validators and indexes."""
    orders = await ensure_collection(database, "orders", ORDER_SCHEMA)
    await orders.create_indexes(
        [
            IndexModel(NEWEST_FIRST, name="ix_orders_created_at_id"),
            IndexModel(
                [("customer_id", ASCENDING), *NEWEST_FIRST],
                name="ix_orders_customer_id_created_at_id",
            ),
            IndexModel(
                [("status", ASCENDING), *NEWEST_FIRST], name="ix_orders_status_created_at_id"
            ),
        ]
    )
    keys = await ensure_collection(database, "idempotency_keys", IDEMPOTENCY_KEY_SCHEMA)
    await keys.create_indexes(
        [
            IndexModel(
                [("scope", ASCENDING), ("key", ASCENDING)],
                name="uq_idempotency_keys_scope_key",
                unique=True,
            ),
            IndexModel([("expires_at", ASCENDING)], name="ix_idempotency_keys_expires_at"),
        ]
    )


async def down(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Drop both collections, their indexes with them."""
    await database.drop_collection("idempotency_keys")
    await database.drop_collection("orders")
