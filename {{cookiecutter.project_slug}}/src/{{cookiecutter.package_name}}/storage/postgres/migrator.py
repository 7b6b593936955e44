"""Alembic, driven programmatically on the service's own async engine.

Migrations run inside one transaction that first takes an advisory lock, so
two instances starting together cannot migrate at the same time.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.postgres.errors import translated_errors
from {{ cookiecutter.package_name }}.storage.postgres.storage import async_url

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x6D6967726174  # "migrat": any constant shared by every instance


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


class PostgresMigrator:
    """Upgrade, downgrade and inspect the schema of one database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """A migrator with a connection of its own (no pool)."""
        return cls(create_async_engine(async_url(settings), poolclass=NullPool))

    async def _run(
        self, operation: Callable[..., object], *args: str, **kwargs: str | bool
    ) -> None:
        def run(connection: Connection) -> None:
            operation(alembic_config(connection), *args, **kwargs)

        with translated_errors():
            async with self._engine.begin() as connection:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _MIGRATION_LOCK}
                )
                await connection.run_sync(run)

    async def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``."""
        await self._run(command.upgrade, revision)

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision``."""
        await self._run(command.downgrade, revision)

    async def revision(self, message: str) -> None:
        """Write the next numbered migration from the schema's difference to the database."""
        latest = ScriptDirectory.from_config(alembic_config()).get_current_head()
        next_id = f"{int(latest or 0) + 1:04d}"
        await self._run(command.revision, message=message, autogenerate=True, rev_id=next_id)

    async def current(self) -> str | None:
        """The applied revision, or ``None``."""

        def read(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        with translated_errors():
            async with self._engine.connect() as connection:
                return await connection.run_sync(read)

    async def pending(self) -> list[str]:
        """The revisions between the applied one and the head, oldest first."""
        applied = await self.current()
        script = ScriptDirectory.from_config(alembic_config())
        try:
            missing = [revision.revision for revision in script.iterate_revisions("heads", applied)]
        except ResolutionError:  # applied by a newer release than this code
            return []
        return missing[::-1]

    async def close(self) -> None:
        """Release the connection."""
        await self._engine.dispose()
