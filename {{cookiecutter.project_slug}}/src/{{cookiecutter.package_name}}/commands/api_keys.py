"""``api-keys create | list | revoke``: the keys callers authenticate with (auth=api_key)."""

import argparse
import asyncio
import sys
from datetime import datetime, timedelta

import structlog

from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyIssuer
from {{ cookiecutter.package_name }}.console import Commands, add_scope_option, positive_int, write_record
from {{ cookiecutter.package_name }}.container import open_api_key_store, open_storage
from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.settings import Settings, get_settings
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore, StoredApiKey

log = structlog.get_logger(__name__)


def _moment(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _key_record(key: StoredApiKey) -> dict[str, object]:
    """What the commands show of a stored key: everything but its hash."""
    return {
        "id": key.id,
        "client": key.client,
        "scopes": list(key.scopes),
        "created_at": _moment(key.created_at),
        "expires_at": _moment(key.expires_at),
        "revoked_at": _moment(key.revoked_at),
        "last_used_at": _moment(key.last_used_at),
    }


async def _create_key(settings: Settings, keys: ApiKeyStore, arguments: argparse.Namespace) -> int:
    days = arguments.expires_in_days
    issuer = ApiKeyIssuer.from_settings(settings, keys)
    issued = await issuer.issue(
        arguments.client, arguments.scope, expires_in=None if days is None else timedelta(days=days)
    )
    # The only time the key is shown: it is not stored, and it never goes to the log.
    write_record({"key": issued.key, **_key_record(issued.stored)})
    return 0


async def _revoke_key(keys: ApiKeyStore, key_id: str) -> int:
    revoked = await keys.revoke(key_id, utc_now())
    if revoked is None:
        sys.stderr.write(f"no API key has the id {key_id!r}\n")
        return 1
    log.info("api_key_revoked", key_id=revoked.id, client=revoked.client)
    write_record(_key_record(revoked))
    return 0


async def _api_keys(arguments: argparse.Namespace) -> int:
    settings = get_settings()
    storage = open_storage(settings)
    keys = open_api_key_store(storage)
    try:
        match arguments.action:
            case "create":
                return await _create_key(settings, keys, arguments)
            case "revoke":
                return await _revoke_key(keys, arguments.key_id)
            case _:
                for key in await keys.list_keys(arguments.client):
                    write_record(_key_record(key))
                return 0
    finally:
        await storage.close()


def api_keys(arguments: argparse.Namespace) -> int:
    """Create, list or revoke the API keys callers authenticate with."""
    return asyncio.run(_api_keys(arguments))


def register(commands: Commands) -> None:
    """Add ``api-keys`` and its actions."""
    keys_parser = commands.add_parser("api-keys", help="create, list or revoke API keys")
    keys_parser.set_defaults(handler=api_keys, prints_data=True)
    key_actions = keys_parser.add_subparsers(dest="action", required=True)
    creating = key_actions.add_parser("create", help="create a key and print it (shown once)")
    creating.add_argument("--client", required=True, help="who the key is for (its subject)")
    add_scope_option(creating, "a permission the key grants; repeat for several")
    creating.add_argument("--expires-in-days", type=positive_int, help="default: never expires")
    listing_keys = key_actions.add_parser("list", help="print keys as JSON lines, no secrets")
    listing_keys.add_argument("--client", help="only this client's keys")
    revoking = key_actions.add_parser("revoke", help="revoke a key at once")
    revoking.add_argument("key_id", help="the key's id (the part after the prefix)")
