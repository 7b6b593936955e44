"""API keys on MongoDB: one document per key, its ``_id`` the public lookup id.

Keys are read on every authenticated call, by ``_id``; writes are rare (create,
revoke) or throttled (``last_used_at``, a conditional update). None of them
needs a transaction: each touches one document.
"""

from datetime import datetime

from pymongo import ASCENDING

from {{ cookiecutter.package_name }}.storage.api_keys import StoredApiKey
from {{ cookiecutter.package_name }}.storage.mongo.client import Database, Document, translated_errors

API_KEYS = "api_keys"

_OLDEST_FIRST = [("created_at", ASCENDING), ("_id", ASCENDING)]


def _key_from_document(document: Document) -> StoredApiKey:
    return StoredApiKey(
        id=document["_id"],
        client=document["client"],
        scopes=tuple(document["scopes"]),
        key_hash=document["key_hash"],
        created_at=document["created_at"],
        expires_at=document.get("expires_at"),
        revoked_at=document.get("revoked_at"),
        last_used_at=document.get("last_used_at"),
    )


class MongoApiKeyStore:
    """API keys on the pooled client."""

    def __init__(self, database: Database) -> None:
        self._keys = database[API_KEYS]

    async def create(self, key: StoredApiKey) -> None:
        """Insert the key; its id is ``_id``, so a clash is ``AlreadyExistsError``."""
        document: Document = {
            "_id": key.id,
            "client": key.client,
            "scopes": list(key.scopes),
            "key_hash": key.key_hash,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at,
        }
        with translated_errors():
            await self._keys.insert_one(document)

    async def find(self, key_id: str) -> StoredApiKey | None:
        """The key with this id, or ``None``."""
        with translated_errors():
            document = await self._keys.find_one({"_id": key_id})
        return None if document is None else _key_from_document(document)

    async def list_keys(self, client: str | None = None) -> list[StoredApiKey]:
        """Every key, or the keys of ``client``, oldest first."""
        query: Document = {} if client is None else {"client": client}
        with translated_errors():
            return [
                _key_from_document(document)
                async for document in self._keys.find(query, sort=_OLDEST_FIRST)
            ]

    async def revoke(self, key_id: str, at: datetime) -> StoredApiKey | None:
        """Set ``revoked_at`` unless already set; the key as it now stands."""
        with translated_errors():
            await self._keys.update_one(
                {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
            )
        return await self.find(key_id)

    async def touch(self, key_id: str, at: datetime, *, stale_before: datetime) -> bool:
        """Conditional update: a no-op when another call recorded a use since ``stale_before``."""
        with translated_errors():
            result = await self._keys.update_one(
                {
                    "_id": key_id,
                    "$or": [{"last_used_at": None}, {"last_used_at": {"$lt": stale_before}}],
                },
                {"$set": {"last_used_at": at}},
            )
        return result.modified_count == 1
