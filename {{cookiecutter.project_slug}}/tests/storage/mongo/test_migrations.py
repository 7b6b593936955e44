"""Migrations are reversible, run one instance at a time, and create indexes and validators."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo.errors import WriteError

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.mongo.client import Database, create_client
from {{ cookiecutter.package_name }}.storage.mongo.migrator import (
    VERSIONS,
    MigrationLockTimeoutError,
    MongoMigrator,
    migrations,
)
from tests.fixtures.mongo import MongoServer

HEAD = migrations()[-1].version


@pytest.fixture
async def migrator(empty_database_settings: Settings) -> AsyncIterator[MongoMigrator]:
    migrator = MongoMigrator.from_settings(empty_database_settings)
    try:
        yield migrator
    finally:
        await migrator.close()


@pytest.fixture
async def database(empty_database_settings: Settings) -> AsyncIterator[Database]:
    client = create_client(empty_database_settings)
    try:
        yield client.get_default_database()
    finally:
        await client.close()


async def collections(database: Database) -> set[str]:
    return set(await database.list_collection_names())


async def index_names(database: Database, collection: str) -> set[str]:
    return {index["name"] async for index in await database[collection].list_indexes()}


async def validator(database: Database, collection: str) -> dict[str, Any]:
    listed = await database.command("listCollections", filter={"name": collection})
    options: dict[str, Any] = listed["cursor"]["firstBatch"][0]["options"]
    return options


async def layout(database: Database) -> dict[str, Any]:
    """Every collection's type, options and indexes as the server lists them, and its size.

    Read with the server's own commands, not with the fixtures' image of a database,
    so that this compares what the server holds, whatever the image leaves out.
    """
    found: dict[str, Any] = {}
    async for listed in await database.list_collections():
        name = listed["name"]
        indexes = [
            {key: value for key, value in index.items() if key != "ns"}
            async for index in await database[name].list_indexes()
        ]
        size = await database[name].count_documents({})
        found[name] = (listed["type"], listed["options"], sorted(indexes, key=str), size)
    return found


async def test_a_tests_migrated_database_is_the_one_the_migrations_make(
    migrator: MongoMigrator, database: Database, database_server: MongoServer
) -> None:
    """The fixtures make each test's database from one migrated database of the run."""
    await migrator.upgrade("head")

    async with database_server.migrated_database() as settings:
        client = create_client(settings)
        made = MongoMigrator(client)
        try:
            copy = client.get_default_database()
            assert await layout(copy) == await layout(database)
            assert await made.current() == HEAD
            versions = {"_id": 0, "version": 1, "name": 1}
            assert await copy[VERSIONS].find({}, versions).sort("version").to_list() == (
                await database[VERSIONS].find({}, versions).sort("version").to_list()
            )
            with pytest.raises(WriteError) as refused:
                await copy["orders"].insert_one({"status": "lost"})
            assert refused.value.code == 121  # the validator applies, not only its listing
        finally:
            await made.close()


async def test_upgrade_downgrade_upgrade(migrator: MongoMigrator, database: Database) -> None:
    await migrator.upgrade("head")
    assert await migrator.current() == HEAD
    assert {"orders", "idempotency_keys", VERSIONS} <= await collections(database)

    await migrator.downgrade("base")
    assert await migrator.current() is None
    assert not {"orders", "idempotency_keys"} & await collections(database)

    await migrator.upgrade("head")
    assert await migrator.current() == HEAD
    assert await database[VERSIONS].count_documents({}) == len(migrations())


async def test_upgrade_creates_indexes_and_validators(
    migrator: MongoMigrator, database: Database
) -> None:
    await migrator.upgrade("head")

    assert {
        "ix_orders_created_at_id",
        "ix_orders_customer_id_created_at_id",
        "ix_orders_status_created_at_id",
    } <= await index_names(database, "orders")
    assert {
        "uq_idempotency_keys_scope_key",
        "ix_idempotency_keys_expires_at",
    } <= await index_names(database, "idempotency_keys")
    for collection in ("orders", "idempotency_keys"):
        options = await validator(database, collection)
        assert "$jsonSchema" in options["validator"]
        assert (options["validationLevel"], options["validationAction"]) == ("strict", "error")
    with pytest.raises(WriteError) as refused:
        await database["orders"].insert_one({"status": "lost"})
    assert refused.value.code == 121  # DocumentValidationFailure


async def test_upgrade_creates_the_webhook_collections(
    migrator: MongoMigrator, database: Database
) -> None:
    await migrator.upgrade("head")

    assert {
        "uq_webhook_deliveries_endpoint_id_event_id",
        "ix_webhook_deliveries_status_next_attempt_at",
    } <= await index_names(database, "webhook_deliveries")
    assert "uq_webhook_delivery_attempts_delivery_id_attempted_at" in await index_names(
        database, "webhook_delivery_attempts"
    )
    for collection in (
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_delivery_attempts",
        "received_webhooks",
    ):
        options = await validator(database, collection)
        assert "$jsonSchema" in options["validator"]
    with pytest.raises(WriteError) as refused:
        await database["webhook_deliveries"].insert_one({"status": "lost"})
    assert refused.value.code == 121  # DocumentValidationFailure

    await migrator.downgrade("base")
    assert not {"webhook_endpoints", "webhook_deliveries"} & await collections(database)


async def test_upgrade_again_changes_nothing(migrator: MongoMigrator, database: Database) -> None:
    await migrator.upgrade("head")
    await migrator.upgrade("head")

    assert await database[VERSIONS].count_documents({}) == len(migrations())


async def test_concurrent_upgrades_apply_each_migration_once(
    empty_database_settings: Settings, database: Database
) -> None:
    migrators = [MongoMigrator.from_settings(empty_database_settings) for _ in range(3)]
    try:
        await asyncio.gather(*(migrator.upgrade("head") for migrator in migrators))
    finally:
        for migrator in migrators:
            await migrator.close()

    versions = [document["version"] async for document in database[VERSIONS].find()]
    assert sorted(versions) == [migration.version for migration in migrations()]


async def test_the_lock_keeps_a_second_migrator_out(
    migrator: MongoMigrator, empty_database_settings: Settings, database: Database
) -> None:
    impatient = MongoMigrator.from_settings(
        empty_database_settings, lock_timeout=timedelta(milliseconds=300)
    )
    try:
        async with migrator.locked():
            with pytest.raises(MigrationLockTimeoutError):
                await impatient.upgrade("head")
        assert await database[VERSIONS].count_documents({}) == 0

        await impatient.upgrade("head")
        assert await impatient.current() == HEAD
    finally:
        await impatient.close()
