"""The retention of received webhook ids: every service receives webhooks."""

import argparse
import asyncio
from datetime import timedelta

import structlog

from {{ cookiecutter.package_name }}.application.inbound_webhooks import ReceivedWebhooks
from {{ cookiecutter.package_name }}.console import Commands
from {{ cookiecutter.package_name }}.container import build_container
from {{ cookiecutter.package_name }}.settings import get_settings

log = structlog.get_logger(__name__)


async def _purge(_: argparse.Namespace) -> int:
    settings = get_settings()
    async with build_container(settings) as container:
        received = ReceivedWebhooks(
            container.storage, transaction_retry=container.transaction_retry
        )
        retention = timedelta(hours=settings.webhooks_inbox_retention_hours)
        purged = await received.forget_older_than(retention)
    log.info("received_webhooks_purged", count=purged)
    return 0


def purge_received_webhooks(arguments: argparse.Namespace) -> int:
    """Forget received webhook ids past their retention (run it from a cron job)."""
    return asyncio.run(_purge(arguments))


def register(commands: Commands) -> None:
    """Add ``purge-received-webhooks``."""
    commands.add_parser(
        "purge-received-webhooks", help="forget received webhook ids past their retention"
    ).set_defaults(handler=purge_received_webhooks)
