"""Migrations are reversible and produce exactly the schema the code declares."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.postgres.migrator import PostgresMigrator, alembic_config
from {{ cookiecutter.package_name }}.storage.postgres.schema import complete_metadata
from {{ cookiecutter.package_name }}.storage.postgres.storage import async_url

# What the code declares: the last migration, and every table of every adapter kept.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = set(complete_metadata().tables)


@pytest.fixture
async def migrator(empty_database_settings: Settings) -> AsyncIterator[PostgresMigrator]:
    migrator = PostgresMigrator.from_settings(empty_database_settings)
    try:
        yield migrator
    finally:
        await migrator.close()


async def tables(settings: Settings) -> set[str]:
    connection = await asyncpg.connect(str(settings.database_url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return {row["tablename"] for row in rows}


async def schema_differences(settings: Settings) -> list[object]:
    engine = create_async_engine(async_url(settings), poolclass=NullPool)

    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), complete_metadata()))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(
    migrator: PostgresMigrator, empty_database_settings: Settings
) -> None:
    await migrator.upgrade("head")
    assert await migrator.current() == HEAD
    assert await tables(empty_database_settings) == TABLES | {"alembic_version"}

    await migrator.downgrade("base")
    assert await migrator.current() is None
    assert await tables(empty_database_settings) == {"alembic_version"}

    await migrator.upgrade("head")
    assert await migrator.current() == HEAD


async def test_migrations_match_the_declared_schema(
    migrator: PostgresMigrator, empty_database_settings: Settings
) -> None:
    await migrator.upgrade("head")

    assert await schema_differences(empty_database_settings) == []
