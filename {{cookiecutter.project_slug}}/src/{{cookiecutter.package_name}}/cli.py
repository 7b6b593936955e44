"""The command line: serve, migrate, {% if cookiecutter.queue != "none" %}relay, consume, {% endif %}and maintenance."""

import argparse
import asyncio
{%- if cookiecutter.api == "rest" or cookiecutter.queue != "none" or cookiecutter.auth == "api_key" %}
import json
{%- endif %}
import sys
from collections.abc import Sequence
{%- if cookiecutter.auth == "api_key" %}
from datetime import UTC, datetime, timedelta
{%- elif cookiecutter.queue != "none" or cookiecutter.auth == "jwt" %}
from datetime import timedelta
{%- endif %}
from pathlib import Path

import structlog
{%- if cookiecutter.api == "rest" %}
import uvicorn
{%- endif %}
from pydantic import ValidationError

{%- if cookiecutter.auth == "api_key" %}
from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyIssuer
{%- endif %}
{%- if cookiecutter.auth in ("jwt", "api_key") %}
from {{ cookiecutter.package_name }}.auth.principal import Permission
{%- endif %}

{%- if cookiecutter.queue != "none" %}
from {{ cookiecutter.package_name }}.container import (
    build_container,
{%- if cookiecutter.api == "rest" %}
    check_configuration,
{%- endif %}
    open_broker,
    open_migrator,
{%- if cookiecutter.auth == "api_key" %}
    open_storage,
{%- endif %}
)
{%- else %}
from {{ cookiecutter.package_name }}.container import build_container, {% if cookiecutter.api == "rest" %}check_configuration, {% endif %}open_migrator{% if cookiecutter.auth == "api_key" %}, open_storage{% endif %}
{%- endif %}
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.observability.logging import configure_logging
from {{ cookiecutter.package_name }}.settings import ConfigurationError, {% if cookiecutter.auth == "api_key" %}Settings, {% endif %}get_settings
{%- if cookiecutter.auth == "api_key" %}
from {{ cookiecutter.package_name }}.storage.port import ApiKeyStore, StoredApiKey
{%- endif %}

log = structlog.get_logger(__name__)
{%- if cookiecutter.queue != "none" %}

ASYNCAPI_PATH = Path("asyncapi.json")
{%- endif %}
{%- if cookiecutter.api == "rest" %}

OPENAPI_PATH = Path("openapi.json")


def serve(_: argparse.Namespace) -> int:
    """Run the HTTP server until SIGINT/SIGTERM, then drain in-flight requests."""
    settings = get_settings()
    # Assemble once before uvicorn starts: a setting that cannot work stops here, with
    # its message, instead of failing every worker's start-up with a traceback.
    asyncio.run(check_configuration(settings))
    uvicorn.run(
        "{{ cookiecutter.package_name }}.api.rest.app:serve_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.http_forwarded_allow_ips,
        timeout_graceful_shutdown=settings.http_graceful_shutdown_seconds,
        server_header=False,
    )
    return 0
{%- endif %}
{%- if cookiecutter.api == "grpc" %}


def serve(_: argparse.Namespace) -> int:
    """Serve gRPC and the HTTP side port until SIGINT/SIGTERM, then drain in-flight calls."""
    from {{ cookiecutter.package_name }}.api.grpc.server import serve as serve_grpc

    asyncio.run(serve_grpc(get_settings()))
    return 0
{%- endif %}


async def _migrate(arguments: argparse.Namespace) -> int:
    async with open_migrator(get_settings()) as migrator:
        match arguments.action:
            case "upgrade":
                await migrator.upgrade(arguments.revision)
            case "downgrade":
                await migrator.downgrade(arguments.revision)
            case "revision":
                await migrator.revision(arguments.message)
            case "current":
                print(await migrator.current() or "base")  # noqa: T201 - command output
        log.info("migrate", action=arguments.action, current=await migrator.current())
    return 0


def migrate(arguments: argparse.Namespace) -> int:
    """Move the database schema."""
    return asyncio.run(_migrate(arguments))
{%- if cookiecutter.api == "rest" or cookiecutter.queue != "none" %}


def _write_document(document: dict[str, object], output: str) -> None:
    """``document`` as indented JSON, to the file ``output`` or to stdout for ``-``."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
{%- endif %}
{%- if cookiecutter.api == "rest" %}


def openapi(arguments: argparse.Namespace) -> int:
    """Write the OpenAPI document the tests compare against the app."""
    from {{ cookiecutter.package_name }}.api.rest.app import create_app

    _write_document(create_app().openapi(), arguments.output)
    return 0
{%- endif %}
{%- if cookiecutter.api == "grpc" %}


def protos(arguments: argparse.Namespace) -> int:
    """Regenerate the protobuf modules and type stubs from the protos (needs the dev tools)."""
    from {{ cookiecutter.package_name }}.api.grpc.codegen import generate

    for proto in generate(Path(arguments.proto_root), Path(arguments.output)):
        log.info("generated", proto=str(proto))
    return 0
{%- endif %}


async def _purge(_: argparse.Namespace) -> int:
    async with build_container(get_settings()) as container:
        purged = await container.orders.purge_expired_idempotency_keys()
    log.info("idempotency_keys_purged", count=purged)
    return 0


def purge_idempotency_keys(arguments: argparse.Namespace) -> int:
    """Delete idempotency keys past their retention (run it from a cron job)."""
    return asyncio.run(_purge(arguments))
{%- if cookiecutter.auth == "api_key" %}


def _days(text: str) -> int:
    """A positive number of days, for ``--expires-in-days``."""
    value = int(text)
    if value < 1:
        message = f"must be at least 1, not {value}"
        raise argparse.ArgumentTypeError(message)
    return value


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


def _write_line(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


async def _create_key(settings: Settings, keys: ApiKeyStore, arguments: argparse.Namespace) -> int:
    days = arguments.expires_in_days
    issuer = ApiKeyIssuer.from_settings(settings, keys)
    issued = await issuer.issue(
        arguments.client, arguments.scope, expires_in=None if days is None else timedelta(days=days)
    )
    # The only time the key is shown: it is not stored, and it never goes to the log.
    _write_line({"key": issued.key, **_key_record(issued.stored)})
    return 0


async def _revoke_key(keys: ApiKeyStore, key_id: str) -> int:
    revoked = await keys.revoke(key_id, datetime.now(UTC))
    if revoked is None:
        sys.stderr.write(f"no API key has the id {key_id!r}\n")
        return 1
    log.info("api_key_revoked", key_id=revoked.id, client=revoked.client)
    _write_line(_key_record(revoked))
    return 0


async def _api_keys(arguments: argparse.Namespace) -> int:
    settings = get_settings()
    storage = open_storage(settings)
    try:
        match arguments.action:
            case "create":
                return await _create_key(settings, storage.api_keys, arguments)
            case "revoke":
                return await _revoke_key(storage.api_keys, arguments.key_id)
            case _:
                for key in await storage.api_keys.list_keys(arguments.client):
                    _write_line(_key_record(key))
                return 0
    finally:
        await storage.close()


def api_keys(arguments: argparse.Namespace) -> int:
    """Create, list or revoke the API keys callers authenticate with."""
    return asyncio.run(_api_keys(arguments))
{%- endif %}
{%- if cookiecutter.auth == "jwt" %}

# A token cannot be revoked before it expires, so none lives longer than a day.
MAX_TOKEN_TTL_SECONDS = 86_400


def _subject(text: str) -> str:
    """A non-blank subject, for ``--subject``."""
    if not text.strip():
        message = "must not be blank"
        raise argparse.ArgumentTypeError(message)
    return text.strip()


def _ttl_seconds(text: str) -> int:
    """A token lifetime in seconds, for ``--ttl-seconds``."""
    value = int(text)
    if not 1 <= value <= MAX_TOKEN_TTL_SECONDS:
        message = f"must be between 1 and {MAX_TOKEN_TTL_SECONDS}, not {value}"
        raise argparse.ArgumentTypeError(message)
    return value


def issue_token(arguments: argparse.Namespace) -> int:
    """Print an access token for a caller, signed with JWT_SECRET or JWT_PRIVATE_KEY."""
    from {{ cookiecutter.package_name }}.auth import jwt

    settings = get_settings()
    ttl_seconds = arguments.ttl_seconds or settings.jwt_token_ttl_seconds
    scopes = map(Permission, arguments.scope)
    token = jwt.issue_token(settings, arguments.subject, scopes, timedelta(seconds=ttl_seconds))
    sys.stdout.write(token + "\n")
    log.info(
        "token_issued", subject=arguments.subject, scopes=arguments.scope, ttl_seconds=ttl_seconds
    )
    return 0
{%- endif %}


{%- if cookiecutter.queue != "none" %}


def _count(text: str) -> int:
    """A positive count, for ``--limit``."""
    value = int(text)
    if value < 1:
        message = f"must be at least 1, not {value}"
        raise argparse.ArgumentTypeError(message)
    return value


async def _purge_processed(_: argparse.Namespace) -> int:
    from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector

    settings = get_settings()
    async with build_container(settings) as container:
        projector = CustomerActivityProjector(container.storage)
        purged = await projector.forget_handled(timedelta(hours=settings.inbox_retention_hours))
    log.info("processed_events_purged", count=purged)
    return 0


def purge_processed_events(arguments: argparse.Namespace) -> int:
    """Forget handled event ids past the inbox retention (run it from a cron job)."""
    return asyncio.run(_purge_processed(arguments))


def relay(_: argparse.Namespace) -> int:
    """Publish the outbox to the broker until SIGINT/SIGTERM."""
    from {{ cookiecutter.package_name }}.messaging.workers import run_relay

    asyncio.run(run_relay(get_settings()))
    return 0


def consume(_: argparse.Namespace) -> int:
    """Consume order events until SIGINT/SIGTERM."""
    from {{ cookiecutter.package_name }}.messaging.workers import run_consumer

    asyncio.run(run_consumer(get_settings()))
    return 0


async def _dead_letters(arguments: argparse.Namespace) -> int:
    async with open_broker(get_settings()) as broker:
        if arguments.action == "replay":
            replayed = await broker.replay_dead_letters(arguments.limit)
            log.info("dead_letters_replayed", count=replayed)
            return 0
        for letter in await broker.dead_letters(arguments.limit):
            record = {
                "id": letter.message.id,
                "type": letter.message.type,
                "key": letter.message.key,
                "error": letter.error,
                "origin": letter.origin,
                "dead_lettered_at": (
                    letter.dead_lettered_at.isoformat() if letter.dead_lettered_at else None
                ),
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


def dead_letters(arguments: argparse.Namespace) -> int:
    """List the dead letters, or publish them to the events channel again."""
    return asyncio.run(_dead_letters(arguments))


def asyncapi(arguments: argparse.Namespace) -> int:
    """Write the AsyncAPI document the tests compare against the code."""
    from {{ cookiecutter.package_name }}.messaging.asyncapi import documented

    _write_document(documented(), arguments.output)
    return 0
{%- endif %}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
{%- if cookiecutter.api == "rest" %}

    commands.add_parser("serve", help="run the HTTP API").set_defaults(handler=serve)
{%- endif %}
{%- if cookiecutter.api == "grpc" %}

    commands.add_parser("serve", help="run the gRPC API and the HTTP side port").set_defaults(
        handler=serve
    )
{%- endif %}

    migrate_parser = commands.add_parser("migrate", help="change the database schema")
    migrate_parser.set_defaults(handler=migrate)
    actions = migrate_parser.add_subparsers(dest="action", required=True)
    upgrade = actions.add_parser("upgrade", help="apply migrations (default: all)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = actions.add_parser("downgrade", help="revert migrations")
    downgrade.add_argument("revision", help="target revision, or 'base' to revert all")
    revision = actions.add_parser("revision", help="write a migration for schema changes")
    revision.add_argument("-m", "--message", required=True)
    actions.add_parser("current", help="print the applied revision").set_defaults(
        prints_data=True
    )
{%- if cookiecutter.api == "rest" %}

    openapi_parser = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi_parser.add_argument("--output", default=str(OPENAPI_PATH), help="path, or - for stdout")
    openapi_parser.set_defaults(handler=openapi, prints_data=True)
{%- endif %}
{%- if cookiecutter.api == "grpc" %}

    protos_parser = commands.add_parser("protos", help="regenerate the protobuf modules")
    protos_parser.add_argument("--proto-root", default="proto", help="where the .proto files are")
    protos_parser.add_argument("--output", default="src", help="where the modules go")
    protos_parser.set_defaults(handler=protos)
{%- endif %}

    commands.add_parser(
        "purge-idempotency-keys", help="delete expired idempotency keys"
    ).set_defaults(handler=purge_idempotency_keys)
{%- if cookiecutter.auth == "jwt" %}

    token_parser = commands.add_parser("issue-token", help="print a signed access token")
    token_parser.add_argument(
        "--subject", type=_subject, required=True, help="who the token names (sub)"
    )
    token_parser.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[permission.value for permission in Permission],
        help="a permission to grant; repeat for several",
    )
    token_parser.add_argument(
        "--ttl-seconds", type=_ttl_seconds, help="lifetime (default: JWT_TOKEN_TTL_SECONDS)"
    )
    token_parser.set_defaults(handler=issue_token, prints_data=True)
{%- endif %}
{%- if cookiecutter.auth == "api_key" %}

    keys_parser = commands.add_parser("api-keys", help="create, list or revoke API keys")
    keys_parser.set_defaults(handler=api_keys, prints_data=True)
    key_actions = keys_parser.add_subparsers(dest="action", required=True)
    creating = key_actions.add_parser("create", help="create a key and print it (shown once)")
    creating.add_argument("--client", required=True, help="who the key is for (its subject)")
    creating.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[permission.value for permission in Permission],
        help="a permission the key grants; repeat for several",
    )
    creating.add_argument("--expires-in-days", type=_days, help="default: never expires")
    listing_keys = key_actions.add_parser("list", help="print keys as JSON lines, no secrets")
    listing_keys.add_argument("--client", help="only this client's keys")
    revoking = key_actions.add_parser("revoke", help="revoke a key at once")
    revoking.add_argument("key_id", help="the key's id (the part after the prefix)")
{%- endif %}
{%- if cookiecutter.queue != "none" %}

    commands.add_parser(
        "purge-processed-events", help="forget handled event ids past their retention"
    ).set_defaults(handler=purge_processed_events)
    commands.add_parser("relay", help="publish the outbox to the broker").set_defaults(
        handler=relay
    )
    commands.add_parser("consume", help="consume order events").set_defaults(handler=consume)
    letters = commands.add_parser("dead-letters", help="inspect or replay dead letters")
    letters.set_defaults(handler=dead_letters, prints_data=True)
    letter_actions = letters.add_subparsers(dest="action", required=True)
    listing = letter_actions.add_parser("list", help="print dead letters as JSON lines")
    listing.add_argument("--limit", type=_count, default=20, help="at most this many")
    replaying = letter_actions.add_parser("replay", help="publish dead letters again")
    replaying.add_argument("--limit", type=_count, default=100, help="at most this many")
    asyncapi_parser = commands.add_parser("asyncapi", help="write the AsyncAPI document")
    asyncapi_parser.add_argument(
        "--output", default=str(ASYNCAPI_PATH), help="path, or - for stdout"
    )
    asyncapi_parser.set_defaults(handler=asyncapi, prints_data=True)
{%- endif %}
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; exit 1 with a clear error on failure."""
    arguments = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        print(f"invalid configuration: {problems}", file=sys.stderr)  # noqa: T201
        return 2
    # A command whose output is data (a document, dead letters) logs to stderr, so
    # that its stdout can be piped.
    log_stream = sys.stderr if getattr(arguments, "prints_data", False) else sys.stdout
    configure_logging(settings.log_level, settings.log_format, log_stream)
    try:
        return int(arguments.handler(arguments))
    except ConfigurationError as error:
        print(f"invalid configuration: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except ServiceUnavailableError as error:
        log.error("command_failed", command=arguments.command, error=error.message)  # noqa: TRY400
        return 1
