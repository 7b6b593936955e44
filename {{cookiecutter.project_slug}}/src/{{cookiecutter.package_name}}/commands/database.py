"""Schema migrations and the idempotency keys' retention: every service has a database."""

import argparse
import asyncio

import structlog

from {{ cookiecutter.package_name }}.console import Commands, positive_seconds
from {{ cookiecutter.package_name }}.container import build_container, open_migrator
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.settings import get_settings
from {{ cookiecutter.package_name }}.storage.port import Migrator

log = structlog.get_logger(__name__)


# How often ``migrate wait`` looks at the schema again.
WAIT_POLL_SECONDS = 2.0


async def wait_for_migrations(migrator: Migrator, seconds: float) -> int:
    """Return 0 once the schema has every migration this code knows, 1 after ``seconds``.

    For a pod's init container: the new release's API starts only after its
    migration job has run. An unreachable database is waited for like a
    pending migration.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    reported: object = None
    while True:
        try:
            missing = await migrator.pending()
        except ServiceUnavailableError as error:
            state: object = error.message
        else:
            if not missing:
                log.info("migrate_wait_done", current=await migrator.current())
                return 0
            state = missing
        if state != reported:
            log.info("migrate_waiting", pending=state)
            reported = state
        if loop.time() >= deadline:
            log.error("migrate_wait_timed_out", seconds=seconds, pending=state)
            return 1
        await asyncio.sleep(min(WAIT_POLL_SECONDS, max(deadline - loop.time(), 0.0)))


async def _migrate(arguments: argparse.Namespace) -> int:
    async with open_migrator(get_settings()) as migrator:
        if arguments.action == "wait":
            return await wait_for_migrations(migrator, arguments.timeout)
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


async def _purge(_: argparse.Namespace) -> int:
    async with build_container(get_settings()) as container:
        purged = await container.orders.purge_expired_idempotency_keys()
    log.info("idempotency_keys_purged", count=purged)
    return 0


def purge_idempotency_keys(arguments: argparse.Namespace) -> int:
    """Delete idempotency keys past their retention (run it from a cron job)."""
    return asyncio.run(_purge(arguments))


def register(commands: Commands) -> None:
    """Add ``migrate`` and ``purge-idempotency-keys``."""
    migrate_parser = commands.add_parser("migrate", help="change the database schema")
    migrate_parser.set_defaults(handler=migrate)
    actions = migrate_parser.add_subparsers(dest="action", required=True)
    upgrade = actions.add_parser("upgrade", help="apply migrations (default: all)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = actions.add_parser("downgrade", help="revert migrations")
    downgrade.add_argument("revision", help="target revision, or 'base' to revert all")
    revision = actions.add_parser("revision", help="write a migration for schema changes")
    revision.add_argument("-m", "--message", required=True)
    actions.add_parser("current", help="print the applied revision").set_defaults(prints_data=True)
    wait = actions.add_parser(
        "wait", help="wait until every migration is applied (exit 1 after --timeout)"
    )
    wait.add_argument(
        "--timeout", type=positive_seconds, default=300.0, help="seconds (default: 300)"
    )
    commands.add_parser(
        "purge-idempotency-keys", help="delete expired idempotency keys"
    ).set_defaults(handler=purge_idempotency_keys)
