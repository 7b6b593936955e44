"""API keys: the format, verification against the stored hash, the keys' life cycle, the CLI.

How each API answers keys is tested beside the API (``tests/api``).
"""

import hmac
import json
import os
import re
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.auth.api_keys import (
    BASE62,
    ApiKeyAuthenticator,
    ApiKeyIssuer,
    KeyFormat,
    KeyHasher,
    checksum,
)
from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.container import open_api_key_store, open_storage
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore
from tests.support.api_keys import with_secret
from tests.support.commands import CommandResult, run_command
from tests.support.processes import environment_of, free_port
from tests.support.tcp_proxy import TcpProxy

READ = Permission.ORDERS_READ.value
WRITE = Permission.ORDERS_WRITE.value


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)  # as precise as every database

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def issuer(settings: Settings, api_keys: ApiKeyStore) -> ApiKeyIssuer:
    return ApiKeyIssuer.from_settings(settings, api_keys)


@pytest.fixture
def authenticator(settings: Settings, api_keys: ApiKeyStore) -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator.from_settings(settings, api_keys)


@pytest.fixture
def client_name() -> str:
    return f"client-{uuid4().hex[:12]}"


def authenticator_at(
    settings: Settings, api_keys: ApiKeyStore, clock: Clock, interval: float = 60.0
) -> ApiKeyAuthenticator:
    """An authenticator as another process would build it, on ``clock``."""
    return ApiKeyAuthenticator(
        api_keys,
        KeyFormat(settings.api_key_prefix),
        KeyHasher.from_settings(settings),
        last_used_interval=timedelta(seconds=interval),
        clock=clock,
    )


async def refused(authenticator: ApiKeyAuthenticator, key: str) -> str:
    """The reason ``authenticator`` gives for refusing ``key``."""
    with pytest.raises(InvalidCredentialsError) as refusal:
        await authenticator.authenticate(key)
    return refusal.value.reason


# The format


def test_a_key_is_prefix_lookup_id_secret_and_checksum(settings: Settings) -> None:
    key_format = KeyFormat(settings.api_key_prefix)
    lookup_id, key = key_format.new_key()

    assert re.fullmatch(
        re.escape(settings.api_key_prefix) + "_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}", key
    )
    assert key.split("_")[1] == lookup_id
    assert key[-6:] == checksum(key[:-6])
    assert key_format.lookup_id(key) == lookup_id
    assert key_format.new_key()[1] != key


def test_the_hash_secret_must_be_set_and_long_enough(settings: Settings) -> None:
    for secret in (None, SecretStr("x" * 31)):
        unusable = settings.model_copy(update={"api_key_hash_secret": secret})
        with pytest.raises(ConfigurationError, match="API_KEY_HASH_SECRET"):
            KeyHasher.from_settings(unusable)


def test_serving_without_a_hash_secret_fails_at_start_up(settings: Settings) -> None:
    environment = environment_of(settings) | {
        "HTTP_PORT": str(free_port()),
        "GRPC_PORT": str(free_port()),
    }
    del environment["API_KEY_HASH_SECRET"]
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"],
        env=os.environ | environment,
        capture_output=True,
        check=False,
        timeout=60,
    )

    assert result.returncode != 0
    assert b"API_KEY_HASH_SECRET" in result.stdout + result.stderr


async def test_a_typo_is_refused_before_any_database_round_trip(
    settings: Settings, proxied_database: tuple[Settings, TcpProxy]
) -> None:
    through_proxy, proxy = proxied_database
    _, key = KeyFormat(settings.api_key_prefix).new_key()
    at = len(key) - 10
    typo = key[:at] + next(c for c in BASE62 if c != key[at]) + key[at + 1 :]
    storage = open_storage(through_proxy)
    try:
        authenticator = ApiKeyAuthenticator.from_settings(
            through_proxy, open_api_key_store(storage)
        )
        proxy.cut()

        assert await refused(authenticator, typo) == "API key checksum mismatch"
        assert await refused(authenticator, key.replace("_", "-")) == "malformed API key"
        with pytest.raises(ServiceUnavailableError):  # a well-formed key does reach the store
            await authenticator.authenticate(key)
    finally:
        await proxy.restored(storage.ping)
        await storage.close()


# Verification


async def test_a_valid_key_proves_its_client_and_grants_its_scopes(
    issuer: ApiKeyIssuer, authenticator: ApiKeyAuthenticator, client_name: str
) -> None:
    issued = await issuer.issue(client_name, [READ])

    principal = await authenticator.authenticate(issued.key)

    assert principal.subject == client_name
    assert principal.permissions == {Permission.ORDERS_READ}
    assert principal.authenticated


async def test_unknown_scopes_are_refused_at_creation(
    issuer: ApiKeyIssuer, client_name: str
) -> None:
    with pytest.raises(ValueError, match="orders:delete"):
        await issuer.issue(client_name, [READ, "orders:delete"])


async def test_the_hashes_are_compared_in_constant_time(
    issuer: ApiKeyIssuer,
    authenticator: ApiKeyAuthenticator,
    client_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issued = await issuer.issue(client_name, [READ])
    compared: list[tuple[Any, Any]] = []
    compare_digest = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    await authenticator.authenticate(issued.key)

    assert any(issued.stored.key_hash in pair for pair in compared)


async def test_a_well_formed_key_with_an_unknown_id_is_refused(
    settings: Settings, authenticator: ApiKeyAuthenticator
) -> None:
    lookup_id, key = KeyFormat(settings.api_key_prefix).new_key()

    assert await refused(authenticator, key) == f"unknown API key {lookup_id}"


async def test_a_wrong_secret_with_a_known_id_and_a_valid_checksum_is_refused(
    issuer: ApiKeyIssuer, authenticator: ApiKeyAuthenticator, client_name: str
) -> None:
    issued = await issuer.issue(client_name, [READ])
    forged = with_secret(issued.key, "".join(secrets.choice(BASE62) for _ in range(32)))

    reason = await refused(authenticator, forged)

    assert reason == f"API key {issued.stored.id} does not match its stored hash"


async def test_a_revoked_key_is_refused(
    issuer: ApiKeyIssuer,
    authenticator: ApiKeyAuthenticator,
    api_keys: ApiKeyStore,
    client_name: str,
) -> None:
    issued = await issuer.issue(client_name, [READ])
    await authenticator.authenticate(issued.key)

    await api_keys.revoke(issued.stored.id, datetime.now(UTC))

    assert await refused(authenticator, issued.key) == f"API key {issued.stored.id} is revoked"


async def test_an_expired_key_is_refused(
    settings: Settings, api_keys: ApiKeyStore, client_name: str
) -> None:
    clock = Clock()
    issuer = ApiKeyIssuer(
        api_keys,
        KeyFormat(settings.api_key_prefix),
        KeyHasher.from_settings(settings),
        clock,
    )
    issued = await issuer.issue(client_name, [READ], expires_in=timedelta(days=1))
    authenticator = authenticator_at(settings, api_keys, clock)
    await authenticator.authenticate(issued.key)

    clock.now += timedelta(days=1)

    assert await refused(authenticator, issued.key) == f"API key {issued.stored.id} has expired"


async def test_a_new_hash_secret_invalidates_every_key(
    settings: Settings, issuer: ApiKeyIssuer, api_keys: ApiKeyStore, client_name: str
) -> None:
    issued = await issuer.issue(client_name, [READ])
    rotated = settings.model_copy(update={"api_key_hash_secret": SecretStr(secrets.token_hex(32))})

    authenticator = ApiKeyAuthenticator.from_settings(rotated, api_keys)

    assert "does not match" in await refused(authenticator, issued.key)


async def test_two_keys_of_one_client_both_work_until_one_is_revoked(
    issuer: ApiKeyIssuer,
    authenticator: ApiKeyAuthenticator,
    api_keys: ApiKeyStore,
    client_name: str,
) -> None:
    old = await issuer.issue(client_name, [READ, WRITE])
    new = await issuer.issue(client_name, [READ, WRITE])
    for key in (old, new):
        assert (await authenticator.authenticate(key.key)).subject == client_name

    await api_keys.revoke(old.stored.id, datetime.now(UTC))

    assert "revoked" in await refused(authenticator, old.key)
    assert (await authenticator.authenticate(new.key)).subject == client_name
    listed = await api_keys.list_keys(client_name)
    assert {key.id: key.revoked_at is None for key in listed} == {
        old.stored.id: False,
        new.stored.id: True,
    }


async def test_last_used_at_is_written_once_per_interval(
    settings: Settings, issuer: ApiKeyIssuer, api_keys: ApiKeyStore, client_name: str
) -> None:
    issued = await issuer.issue(client_name, [READ])
    clock = Clock()
    first_use = clock.now
    authenticator = authenticator_at(settings, api_keys, clock, interval=60)

    async def last_used() -> datetime | None:
        stored = await api_keys.find(issued.stored.id)
        assert stored is not None
        return stored.last_used_at

    await authenticator.authenticate(issued.key)
    assert await last_used() == first_use

    clock.now += timedelta(seconds=30)
    await authenticator.authenticate(issued.key)  # remembered in process: no write
    another_process = authenticator_at(settings, api_keys, clock)
    await another_process.authenticate(issued.key)  # the store refuses the write
    assert await last_used() == first_use

    clock.now += timedelta(seconds=31)
    await authenticator.authenticate(issued.key)
    assert await last_used() == clock.now


# The command line


def run_cli(settings: Settings, *arguments: str) -> CommandResult:
    return run_command(settings, "api-keys", *arguments)


async def test_the_cli_creates_lists_and_revokes_keys(
    settings: Settings, authenticator: ApiKeyAuthenticator, client_name: str
) -> None:
    created = run_cli(
        settings, "create", "--client", client_name, "--scope", READ, "--expires-in-days", "30"
    )
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    key, key_id = record["key"], record["id"]
    assert key_id in created.stderr  # the log names the key by its id
    assert key not in created.stderr
    principal = await authenticator.authenticate(key)
    assert principal.subject == client_name
    assert principal.permissions == {Permission.ORDERS_READ}

    listed = run_cli(settings, "list", "--client", client_name)
    assert listed.returncode == 0, listed.stderr
    [shown] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert set(shown) == {
        "id",
        "client",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    }
    assert (shown["id"], shown["scopes"], shown["revoked_at"]) == (key_id, [READ], None)
    assert shown["last_used_at"] is not None
    assert key.rsplit("_", 1)[1] not in listed.stdout

    revoked = run_cli(settings, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in await refused(authenticator, key)
    listed = run_cli(settings, "list", "--client", client_name)
    [shown] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert shown["revoked_at"] is not None


async def test_the_cli_grants_every_permission_the_service_knows(
    settings: Settings, authenticator: ApiKeyAuthenticator, client_name: str
) -> None:
    scopes = [argument for p in Permission for argument in ("--scope", p.value)]

    created = run_cli(settings, "create", "--client", client_name, *scopes)

    assert created.returncode == 0, created.stderr
    principal = await authenticator.authenticate(json.loads(created.stdout)["key"])
    assert principal.permissions == frozenset(Permission)
    assert Permission.WEBHOOKS_MANAGE in principal.permissions


def test_the_cli_refuses_an_unknown_id_and_an_unknown_scope(settings: Settings) -> None:
    unknown = run_cli(settings, "revoke", "000000000000")
    assert unknown.returncode == 1
    assert "no API key has the id '000000000000'" in unknown.stderr

    bad_scope = run_cli(settings, "create", "--client", "c", "--scope", "orders:delete")
    assert bad_scope.returncode == 2
    assert "orders:delete" in bad_scope.stderr
