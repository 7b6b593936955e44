"""The API-key port: keys stored by their public id, never in the clear."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    """An API key as stored: its public id and a keyed hash, never the key itself."""

    id: str
    client: str
    scopes: tuple[str, ...]
    key_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyStore(Protocol):
    """API keys by their public id; each write is a single statement, outside any unit of work."""

    async def create(self, key: StoredApiKey) -> None:
        """Store a new key; raise ``AlreadyExistsError`` if its id is taken."""
        ...

    async def find(self, key_id: str) -> StoredApiKey | None:
        """The key with this id (revoked and expired ones included), or ``None``."""
        ...

    async def list_keys(self, client: str | None = None) -> list[StoredApiKey]:
        """Every key, or the keys of ``client``, oldest first."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> StoredApiKey | None:
        """Mark the key revoked at ``at``, unless it already is; ``None`` for an unknown id."""
        ...

    async def touch(self, key_id: str, at: datetime, *, stale_before: datetime) -> bool:
        """Set ``last_used_at`` to ``at`` unless it is already ``stale_before`` or later."""
        ...
