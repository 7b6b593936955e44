"""The API key store's promises, checked against the real database of this service."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
{% if cookiecutter.database == "postgres" %}
import asyncpg
{%- endif %}
import pytest

from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyIssuer
from {{ cookiecutter.package_name }}.container import open_migrator, open_storage
from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError
from {{ cookiecutter.package_name }}.settings import Settings
{%- if cookiecutter.database == "mongo" %}
from {{ cookiecutter.package_name }}.storage.mongo.client import create_client
{%- endif %}
from {{ cookiecutter.package_name }}.storage.port import Storage, StoredApiKey

# Whole seconds: every database keeps at least millisecond precision.
NOW = datetime.now(UTC).replace(microsecond=0)
PREVIOUS_REVISION = "{{ '0001' if cookiecutter.queue == 'none' else '0002' }}"


def a_key(client: str | None = None, **changes: Any) -> StoredApiKey:
    key = StoredApiKey(
        id=uuid4().hex[:12],
        client=client or f"client-{uuid4().hex[:12]}",
        scopes=("orders:read",),
        key_hash="0" * 64,
        created_at=NOW,
    )
    return replace(key, **changes)


async def test_a_key_is_found_by_its_id_as_it_was_stored(storage: Storage) -> None:
    key = a_key(expires_at=NOW + timedelta(days=1))
    await storage.api_keys.create(key)

    assert await storage.api_keys.find(key.id) == key
    assert await storage.api_keys.find(uuid4().hex[:12]) is None


async def test_the_id_is_unique(storage: Storage) -> None:
    key = a_key()
    await storage.api_keys.create(key)

    with pytest.raises(AlreadyExistsError):
        await storage.api_keys.create(a_key(id=key.id))


async def test_keys_are_listed_oldest_first_for_one_client_or_all(storage: Storage) -> None:
    client = f"client-{uuid4().hex[:12]}"
    older = a_key(client, created_at=NOW - timedelta(minutes=1))
    newer = a_key(client)
    other = a_key()
    for key in (newer, other, older):
        await storage.api_keys.create(key)

    assert await storage.api_keys.list_keys(client) == [older, newer]
    everyone = [key.id for key in await storage.api_keys.list_keys()]
    assert {older.id, newer.id, other.id} <= set(everyone)
    assert everyone.index(older.id) < everyone.index(newer.id)


async def test_revoking_keeps_the_first_time_and_reports_unknown_ids(storage: Storage) -> None:
    key = a_key()
    await storage.api_keys.create(key)

    first = await storage.api_keys.revoke(key.id, NOW)
    again = await storage.api_keys.revoke(key.id, NOW + timedelta(hours=1))

    assert first is not None
    assert again is not None
    assert first.revoked_at == again.revoked_at == NOW
    assert await storage.api_keys.revoke(uuid4().hex[:12], NOW) is None


async def test_touch_writes_only_when_the_last_use_is_stale(storage: Storage) -> None:
    key = a_key()
    await storage.api_keys.create(key)
    later = NOW + timedelta(seconds=30)
    much_later = NOW + timedelta(seconds=90)

    assert await storage.api_keys.touch(key.id, NOW, stale_before=NOW - timedelta(minutes=1))
    assert not await storage.api_keys.touch(
        key.id, later, stale_before=later - timedelta(minutes=1)
    )
    assert await storage.api_keys.touch(
        key.id, much_later, stale_before=much_later - timedelta(minutes=1)
    )
    found = await storage.api_keys.find(key.id)
    assert found is not None
    assert found.last_used_at == much_later
    assert not await storage.api_keys.touch(uuid4().hex[:12], NOW, stale_before=NOW)


async def stored_record(settings: Settings, key_id: str) -> str:
    """Everything the database holds for the key, as text."""
{%- if cookiecutter.database == "postgres" %}
    connection = await asyncpg.connect(str(settings.database_url))
    try:
        row = await connection.fetchrow("SELECT * FROM api_keys WHERE id = $1", key_id)
    finally:
        await connection.close()
    assert row is not None
    return repr(dict(row))
{%- else %}
    client = create_client(settings)
    try:
        document = await client.get_default_database()["api_keys"].find_one({"_id": key_id})
    finally:
        await client.close()
    assert document is not None
    return repr(document)
{%- endif %}


async def test_nothing_stored_reveals_the_key(settings: Settings, storage: Storage) -> None:
    issued = await ApiKeyIssuer.from_settings(settings, storage.api_keys).issue(
        f"client-{uuid4().hex[:12]}", ["orders:read"]
    )

    stored = await stored_record(settings, issued.stored.id)

    secret = issued.key.rsplit("_", 1)[1]
    assert issued.stored.id in stored
    assert issued.key not in stored
    assert secret[:8] not in stored
    assert secret[-8:] not in stored


async def test_the_api_key_migration_reverts_and_applies_again(
    empty_database_settings: Settings,
) -> None:
    async with open_migrator(empty_database_settings) as migrator:
        await migrator.upgrade("head")
        assert await migrator.current() == "0003"

        await migrator.downgrade(PREVIOUS_REVISION)
        assert await migrator.current() == PREVIOUS_REVISION

        await migrator.upgrade("head")
        assert await migrator.current() == "0003"
    storage = open_storage(empty_database_settings)
    try:
        key = a_key()
        await storage.api_keys.create(key)
        assert await storage.api_keys.find(key.id) == key
    finally:
        await storage.close()
