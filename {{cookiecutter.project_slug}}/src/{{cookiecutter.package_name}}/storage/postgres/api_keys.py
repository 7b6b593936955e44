"""API keys on PostgreSQL: one autocommit statement per operation.

Keys are read on every authenticated call, by primary key; writes are rare
(create, revoke) or throttled (``last_used_at``, a conditional update).
"""

from datetime import datetime

from sqlalchemy import (
    Column,
    DateTime,
    Executable,
    Index,
    String,
    Table,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.storage.api_keys import StoredApiKey
from {{ cookiecutter.package_name }}.storage.postgres.errors import translated_errors
from {{ cookiecutter.package_name }}.storage.postgres.schema import metadata

# API keys: the public lookup id (the primary key) and a keyed hash of the key, never the key.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("client", String(100), nullable=False),
    Column("scopes", JSONB, nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Index("ix_api_keys_client_created_at", "client", "created_at"),
)


def _key_from_row(row: RowMapping) -> StoredApiKey:
    return StoredApiKey(
        id=row["id"],
        client=row["client"],
        scopes=tuple(row["scopes"]),
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


class PostgresApiKeyStore:
    """API keys, each operation on its own autocommit connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def _rows(self, statement: Executable) -> list[StoredApiKey]:
        with translated_errors():
            async with self._engine.connect() as connection:
                result = await connection.execute(statement)
                return [_key_from_row(row) for row in result.mappings()]

    async def create(self, key: StoredApiKey) -> None:
        """Insert the key; its id is the primary key, so a clash is ``AlreadyExistsError``."""
        values = {
            "id": key.id,
            "client": key.client,
            "scopes": list(key.scopes),
            "key_hash": key.key_hash,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at,
        }
        with translated_errors():
            async with self._engine.connect() as connection:
                await connection.execute(insert(api_keys).values(values))

    async def find(self, key_id: str) -> StoredApiKey | None:
        """The key with this id, or ``None``."""
        found = await self._rows(select(api_keys).where(api_keys.c.id == key_id))
        return found[0] if found else None

    async def list_keys(self, client: str | None = None) -> list[StoredApiKey]:
        """Every key, or the keys of ``client``, oldest first."""
        statement = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if client is not None:
            statement = statement.where(api_keys.c.client == client)
        return await self._rows(statement)

    async def revoke(self, key_id: str, at: datetime) -> StoredApiKey | None:
        """Set ``revoked_at`` unless already set; the key as it now stands."""
        statement = (
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(revoked_at=func.coalesce(api_keys.c.revoked_at, at))
            .returning(*api_keys.c)
        )
        found = await self._rows(statement)
        return found[0] if found else None

    async def touch(self, key_id: str, at: datetime, *, stale_before: datetime) -> bool:
        """Conditional update: a no-op when another call recorded a use since ``stale_before``."""
        statement = (
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < stale_before),
            )
            .values(last_used_at=at)
        )
        with translated_errors():
            async with self._engine.connect() as connection:
                return (await connection.execute(statement)).rowcount == 1
