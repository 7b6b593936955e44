"""The API key store's promises, checked against the real database of this service."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyIssuer
from {{ cookiecutter.package_name }}.container import open_api_key_store, open_migrator, open_storage
from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore, StoredApiKey
from tests.support.database import DatabaseServer

# Whole seconds: every database keeps at least millisecond precision.
NOW = datetime.now(UTC).replace(microsecond=0)
# The migration that adds the keys: the same number on every database.
API_KEYS_REVISION = "0003"


def a_key(client: str | None = None, **changes: Any) -> StoredApiKey:
    key = StoredApiKey(
        id=uuid4().hex[:12],
        client=client or f"client-{uuid4().hex[:12]}",
        scopes=("orders:read",),
        key_hash="0" * 64,
        created_at=NOW,
    )
    return replace(key, **changes)


async def test_a_key_is_found_by_its_id_as_it_was_stored(api_keys: ApiKeyStore) -> None:
    key = a_key(expires_at=NOW + timedelta(days=1))
    await api_keys.create(key)

    assert await api_keys.find(key.id) == key
    assert await api_keys.find(uuid4().hex[:12]) is None


async def test_the_id_is_unique(api_keys: ApiKeyStore) -> None:
    key = a_key()
    await api_keys.create(key)

    with pytest.raises(AlreadyExistsError):
        await api_keys.create(a_key(id=key.id))


async def test_keys_are_listed_oldest_first_for_one_client_or_all(api_keys: ApiKeyStore) -> None:
    client = f"client-{uuid4().hex[:12]}"
    older = a_key(client, created_at=NOW - timedelta(minutes=1))
    newer = a_key(client)
    other = a_key()
    for key in (newer, other, older):
        await api_keys.create(key)

    assert await api_keys.list_keys(client) == [older, newer]
    everyone = [key.id for key in await api_keys.list_keys()]
    assert {older.id, newer.id, other.id} <= set(everyone)
    assert everyone.index(older.id) < everyone.index(newer.id)


async def test_revoking_keeps_the_first_time_and_reports_unknown_ids(api_keys: ApiKeyStore) -> None:
    key = a_key()
    await api_keys.create(key)

    first = await api_keys.revoke(key.id, NOW)
    again = await api_keys.revoke(key.id, NOW + timedelta(hours=1))

    assert first is not None
    assert again is not None
    assert first.revoked_at == again.revoked_at == NOW
    assert await api_keys.revoke(uuid4().hex[:12], NOW) is None


async def test_touch_writes_only_when_the_last_use_is_stale(api_keys: ApiKeyStore) -> None:
    key = a_key()
    await api_keys.create(key)
    later = NOW + timedelta(seconds=30)
    much_later = NOW + timedelta(seconds=90)

    assert await api_keys.touch(key.id, NOW, stale_before=NOW - timedelta(minutes=1))
    assert not await api_keys.touch(key.id, later, stale_before=later - timedelta(minutes=1))
    assert await api_keys.touch(key.id, much_later, stale_before=much_later - timedelta(minutes=1))
    found = await api_keys.find(key.id)
    assert found is not None
    assert found.last_used_at == much_later
    assert not await api_keys.touch(uuid4().hex[:12], NOW, stale_before=NOW)


async def test_nothing_stored_reveals_the_key(
    settings: Settings, api_keys: ApiKeyStore, database_server: DatabaseServer
) -> None:
    issued = await ApiKeyIssuer.from_settings(settings, api_keys).issue(
        f"client-{uuid4().hex[:12]}", ["orders:read"]
    )

    stored = await database_server.stored_record(settings, "api_keys", issued.stored.id)
    assert stored is not None

    secret = issued.key.rsplit("_", 1)[1]
    assert issued.stored.id in stored
    assert issued.key not in stored
    assert secret[:8] not in stored
    assert secret[-8:] not in stored


async def test_the_api_key_migration_reverts_and_applies_again(
    empty_database_settings: Settings, database_server: DatabaseServer
) -> None:
    previous = database_server.revision_before(API_KEYS_REVISION)
    async with open_migrator(empty_database_settings) as migrator:
        await migrator.upgrade("head")
        head = await migrator.current()
        assert head is not None
        assert head >= API_KEYS_REVISION

        await migrator.downgrade(previous)
        assert await migrator.current() == previous

        await migrator.upgrade(API_KEYS_REVISION)
        assert await migrator.current() == API_KEYS_REVISION
        await migrator.upgrade("head")
        assert await migrator.current() == head
    storage = open_storage(empty_database_settings)
    try:
        api_keys = open_api_key_store(storage)
        key = a_key()
        await api_keys.create(key)
        assert await api_keys.find(key.id) == key
    finally:
        await storage.close()
