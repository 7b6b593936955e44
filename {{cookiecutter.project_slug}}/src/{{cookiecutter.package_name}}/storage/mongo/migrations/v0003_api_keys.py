"""API keys: a validated collection keyed by the public lookup id, indexed by client.

The lookup id is the ``_id``, so the index every collection has on ``_id``
keeps it unique. The number follows the event migration's (``v0002``), which a
service without events does not have: the migrator orders modules by number
and needs no unbroken sequence.
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from {{ cookiecutter.package_name }}.storage.mongo.migrations import ensure_collection

API_KEY_SCHEMA: dict[str, Any] = {
    "bsonType": "object",
    "required": ["_id", "client", "scopes", "key_hash", "created_at"],
    "additionalProperties": False,
    "properties": {
        "_id": {"bsonType": "string", "minLength": 1, "maxLength": 32},
        "client": {"bsonType": "string", "minLength": 1, "maxLength": 100},
        "scopes": {"bsonType": "array", "items": {"bsonType": "string", "maxLength": 64}},
        "key_hash": {"bsonType": "string", "minLength": 64, "maxLength": 64},
        "created_at": {"bsonType": "date"},
        "expires_at": {"bsonType": ["date", "null"]},
        "revoked_at": {"bsonType": ["date", "null"]},
        "last_used_at": {"bsonType": ["date", "null"]},
    },
}


async def up(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Create the collection with its validator and the per-client index."""
    keys = await ensure_collection(database, "api_keys", API_KEY_SCHEMA)
    await keys.create_indexes(
        [
            IndexModel(
                [("client", ASCENDING), ("created_at", ASCENDING)],
                name="ix_api_keys_client_created_at",
            )
        ]
    )


async def down(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Drop the collection, its indexes with it."""
    await database.drop_collection("api_keys")
