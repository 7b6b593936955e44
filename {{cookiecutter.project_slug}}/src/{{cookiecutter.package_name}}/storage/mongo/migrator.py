"""Ordered migrations with ``up`` and ``down``, applied one instance at a time.

Applied versions are documents of the ``schema_migrations`` collection, unique
on ``version``. A lease document in ``schema_migrations_lock`` keeps two
instances from migrating at once: the second waits for the first to finish,
and a lease left behind by a crashed process lapses after ``LEASE``.
"""

import asyncio
import importlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self, cast
from uuid import uuid4

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel

from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError, ServiceUnavailableError
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.mongo.client import (
    Database,
    Document,
    create_client,
    translated_errors,
)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = "schema_migrations"
LOCK = "schema_migrations_lock"
LEASE = timedelta(minutes=10)
_LOCK_ID = "migrate"
_MODULE = re.compile(r"v(?P<version>\d{4})_(?P<name>\w+)")
_NEW_MIGRATION = '''"""{message}."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


async def up(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Apply this migration; running it twice must be harmless."""


async def down(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Revert what :func:`up` did."""
'''

Step = Callable[[Database], Awaitable[None]]


class MigrationLockTimeoutError(ServiceUnavailableError):
    """Another instance kept the migration lock for longer than we would wait."""

    def __init__(self) -> None:
        super().__init__("migration lock")


@dataclass(frozen=True, slots=True)
class Migration:
    """One module of the migrations package."""

    version: str
    name: str
    up: Step
    down: Step


def migrations(directory: Path = MIGRATIONS) -> list[Migration]:
    """Every migration, oldest first."""
    package = f"{__package__}.migrations"
    found: list[Migration] = []
    for path in sorted(directory.glob("v*.py")):
        match = _MODULE.fullmatch(path.stem)
        if match is None:
            continue
        module = importlib.import_module(f"{package}.{path.stem}")
        up, down = cast("Step", module.up), cast("Step", module.down)
        found.append(Migration(match["version"], match["name"], up, down))
    return found


class MongoMigrator:
    """Upgrade, downgrade and inspect the schema of one database."""

    def __init__(
        self, client: AsyncMongoClient[Document], *, lock_timeout: timedelta = LEASE
    ) -> None:
        self._client = client
        self._database: Database = client.get_default_database()
        self._lock_timeout = lock_timeout

    @classmethod
    def from_settings(cls, settings: Settings, *, lock_timeout: timedelta = LEASE) -> Self:
        """A migrator with a client of its own."""
        return cls(create_client(settings), lock_timeout=lock_timeout)

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the migration lock; wait for it while another instance holds it."""
        locks = self._database[LOCK]
        owner = uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_timeout.total_seconds()
        while True:
            now = datetime.now(UTC)
            try:
                with translated_errors():
                    # Matches only a lapsed lease; while a live one exists, the upsert
                    # inserts a second "migrate" document, which the unique _id refuses.
                    await locks.update_one(
                        {"_id": _LOCK_ID, "expires_at": {"$lte": now}},
                        {"$set": {"owner": owner, "acquired_at": now, "expires_at": now + LEASE}},
                        upsert=True,
                    )
                break
            except AlreadyExistsError:
                if loop.time() >= deadline:
                    raise MigrationLockTimeoutError from None
            await asyncio.sleep(0.1)
        try:
            yield
        finally:
            with translated_errors():
                await locks.delete_one({"_id": _LOCK_ID, "owner": owner})

    async def _applied(self) -> set[str]:
        with translated_errors():
            return {document["version"] async for document in self._database[VERSIONS].find()}

    async def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``."""
        target = self._resolve(revision)
        versions = self._database[VERSIONS]
        async with self.locked():
            with translated_errors():
                await versions.create_indexes(
                    [IndexModel([("version", ASCENDING)], name="uq_version", unique=True)]
                )
                applied = await self._applied()
                for migration in migrations():
                    if migration.version > target or migration.version in applied:
                        continue
                    await migration.up(self._database)
                    await versions.insert_one(
                        {
                            "version": migration.version,
                            "name": migration.name,
                            "applied_at": datetime.now(UTC),
                        }
                    )

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``base`` reverts them all)."""
        target = self._resolve(revision)
        versions = self._database[VERSIONS]
        async with self.locked():
            with translated_errors():
                applied = await self._applied()
                for migration in reversed(migrations()):
                    if migration.version <= target or migration.version not in applied:
                        continue
                    await migration.down(self._database)
                    await versions.delete_one({"version": migration.version})

    async def current(self) -> str | None:
        """The newest applied revision, or ``None``."""
        with translated_errors():
            latest = await self._database[VERSIONS].find_one(sort=[("version", DESCENDING)])
        return None if latest is None else str(latest["version"])

    async def pending(self) -> list[str]:
        """The known migrations not applied yet, oldest first."""
        applied = await self._applied()
        return [migration.version for migration in migrations() if migration.version not in applied]

    async def revision(self, message: str) -> None:
        """Write the next numbered, empty migration module, to be filled in by hand."""
        known = migrations()
        version = f"{int(known[-1].version) + 1 if known else 1:04d}"
        name = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_") or "migration"
        path = MIGRATIONS / f"v{version}_{name}.py"
        text = _NEW_MIGRATION.format(message=message.strip().rstrip("."))
        path.write_text(text, encoding="utf-8")

    @staticmethod
    def _resolve(revision: str) -> str:
        """A revision as a comparable version: ``base`` before all, ``head`` after all."""
        if revision == "base":
            return "0000"
        if revision == "head":
            return "9999"
        if revision not in {migration.version for migration in migrations()}:
            message = f"unknown revision {revision!r}: use base, head or a migration's number"
            raise ValueError(message)
        return revision

    async def close(self) -> None:
        """Release the client."""
        await self._client.close()
