"""Ordered migrations: ``vNNNN_<name>.py`` modules, each with ``up`` and ``down``.

MongoDB cannot change collections and indexes inside a transaction together
with other writes, so a migration that fails half-way is run again from the
start: write each step so that running it twice is harmless (the helpers
below are).
"""

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase


async def ensure_collection(
    database: AsyncDatabase[dict[str, Any]], name: str, schema: dict[str, Any]
) -> AsyncCollection[dict[str, Any]]:
    """Create ``name`` validated by ``schema``, or set ``schema`` on it if it exists."""
    options: dict[str, Any] = {
        "validator": {"$jsonSchema": schema},
        "validationLevel": "strict",
        "validationAction": "error",
    }
    if name in await database.list_collection_names(filter={"name": name}):
        await database.command("collMod", name, **options)
        return database[name]
    return await database.create_collection(name, **options)
