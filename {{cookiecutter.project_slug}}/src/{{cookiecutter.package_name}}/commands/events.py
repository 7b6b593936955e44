"""The event processes and their upkeep: relay, consume, dead letters, the inbox, AsyncAPI."""

import argparse
import asyncio
from datetime import timedelta
from pathlib import Path

import structlog

from {{ cookiecutter.package_name }}.console import Commands, positive_int, write_document, write_record
from {{ cookiecutter.package_name }}.container import broker_adapter, build_container, open_broker
from {{ cookiecutter.package_name }}.settings import get_settings

log = structlog.get_logger(__name__)

ASYNCAPI_PATH = Path("asyncapi.json")


async def _purge_processed(_: argparse.Namespace) -> int:
    from {{ cookiecutter.package_name }}.application.customer_activity import CustomerActivityProjector
    from {{ cookiecutter.package_name }}.fulfilment.disabled import NoFulfilment

    settings = get_settings()
    async with build_container(settings) as container:
        # Forgetting old event ids asks nothing of the fulfilment system.
        projector = CustomerActivityProjector(
            container.events, NoFulfilment(), transaction_retry=container.transaction_retry
        )
        purged = await projector.forget_handled(timedelta(hours=settings.inbox_retention_hours))
    log.info("processed_events_purged", count=purged)
    return 0


def purge_processed_events(arguments: argparse.Namespace) -> int:
    """Forget handled event ids past the inbox retention (run it from a cron job)."""
    return asyncio.run(_purge_processed(arguments))


def relay(_: argparse.Namespace) -> int:
    """Publish the outbox to the broker until SIGINT/SIGTERM."""
    from {{ cookiecutter.package_name }}.workers import run_relay

    asyncio.run(run_relay(get_settings()))
    return 0


def consume(_: argparse.Namespace) -> int:
    """Consume order events until SIGINT/SIGTERM."""
    from {{ cookiecutter.package_name }}.workers import run_consumer

    asyncio.run(run_consumer(get_settings()))
    return 0


async def _dead_letters(arguments: argparse.Namespace) -> int:
    async with open_broker(get_settings()) as broker:
        if arguments.action == "replay":
            replayed = await broker.replay_dead_letters(arguments.limit)
            log.info("dead_letters_replayed", count=replayed)
            return 0
        for letter in await broker.dead_letters(arguments.limit):
            dead_lettered_at = letter.dead_lettered_at
            write_record(
                {
                    "id": letter.message.id,
                    "type": letter.message.type,
                    "key": letter.message.key,
                    "error": letter.error,
                    "origin": letter.origin,
                    "dead_lettered_at": dead_lettered_at.isoformat() if dead_lettered_at else None,
                }
            )
    return 0


def dead_letters(arguments: argparse.Namespace) -> int:
    """List the dead letters, or publish them to the events channel again."""
    return asyncio.run(_dead_letters(arguments))


def asyncapi(arguments: argparse.Namespace) -> int:
    """Write the AsyncAPI document the tests compare against the code."""
    from {{ cookiecutter.package_name }}.messaging.asyncapi import documented

    write_document(documented(broker_adapter()), arguments.output)
    return 0


def register(commands: Commands) -> None:
    """Add ``relay``, ``consume``, ``dead-letters``, ``purge-processed-events`` and ``asyncapi``."""
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
    listing.add_argument("--limit", type=positive_int, default=20, help="at most this many")
    replaying = letter_actions.add_parser("replay", help="publish dead letters again")
    replaying.add_argument("--limit", type=positive_int, default=100, help="at most this many")
    asyncapi_parser = commands.add_parser("asyncapi", help="write the AsyncAPI document")
    asyncapi_parser.add_argument(
        "--output", default=str(ASYNCAPI_PATH), help="path, or - for stdout"
    )
    asyncapi_parser.set_defaults(handler=asyncapi, prints_data=True)
