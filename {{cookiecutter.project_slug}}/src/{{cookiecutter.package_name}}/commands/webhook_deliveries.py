"""The ``deliver`` worker, and the deliveries it gave up on: list them, replay them."""

import argparse
import asyncio
from functools import partial
from uuid import UUID

import structlog

from {{ cookiecutter.package_name }}.console import Commands, positive_int, write_record
from {{ cookiecutter.package_name }}.container import build_container, open_webhook_deliverer
from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.domain.webhooks import DeliveryStatus, WebhookDelivery
from {{ cookiecutter.package_name }}.observability.health import database_ready
from {{ cookiecutter.package_name }}.processes import run_with_probes, stop_on_signals
from {{ cookiecutter.package_name }}.settings import Settings, get_settings
from {{ cookiecutter.package_name }}.storage.webhooks import DeliveryFilter

log = structlog.get_logger(__name__)


async def run_deliverer(settings: Settings) -> None:
    """Deliver webhooks until SIGINT/SIGTERM; ready while the database answers."""
    stop = stop_on_signals()
    async with (
        build_container(settings) as container,
        open_webhook_deliverer(container) as deliverer,
    ):
        checks = {"database": partial(database_ready, container.storage)}
        await run_with_probes(settings, checks, deliverer.run(stop), stop)


def deliver(_: argparse.Namespace) -> int:
    """Send the due webhooks until SIGINT/SIGTERM; attempts in hand finish first."""
    asyncio.run(run_deliverer(get_settings()))
    return 0


def _record(delivery: WebhookDelivery) -> dict[str, object]:
    next_attempt_at = delivery.next_attempt_at
    return {
        "id": str(delivery.id),
        "endpoint_id": str(delivery.endpoint_id),
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "message_id": delivery.message_id,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": next_attempt_at.isoformat() if next_attempt_at else None,
        "created_at": delivery.created_at.isoformat(),
        "updated_at": delivery.updated_at.isoformat(),
    }


async def _deliveries(arguments: argparse.Namespace) -> int:
    async with build_container(get_settings()) as container:
        deliveries = container.webhooks.deliveries
        if arguments.action == "replay":
            replayed = await deliveries.replay(
                DeliveryFilter(endpoint_id=arguments.endpoint), utc_now(), limit=arguments.limit
            )
            log.info("webhook_deliveries_replayed", count=replayed)
            return 0
        status = DeliveryStatus(arguments.status) if arguments.status else None
        listed = await deliveries.list_after(
            DeliveryFilter(endpoint_id=arguments.endpoint, status=status),
            None,
            limit=arguments.limit,
        )
        for delivery in listed:
            write_record(_record(delivery))
    return 0


def webhook_deliveries(arguments: argparse.Namespace) -> int:
    """List webhook deliveries, or replay the failed ones."""
    return asyncio.run(_deliveries(arguments))


def register(commands: Commands) -> None:
    """Add ``deliver`` and ``webhook-deliveries``."""
    commands.add_parser("deliver", help="send the due webhooks").set_defaults(handler=deliver)
    deliveries = commands.add_parser(
        "webhook-deliveries", help="list webhook deliveries, or replay the failed ones"
    )
    deliveries.set_defaults(handler=webhook_deliveries, prints_data=True)
    actions = deliveries.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="print deliveries as JSON lines, newest first")
    listing.add_argument("--endpoint", type=UUID, help="of this endpoint only")
    listing.add_argument(
        "--status",
        choices=[status.value for status in DeliveryStatus],
        help="in this state only (failed: given up, to be replayed)",
    )
    listing.add_argument("--limit", type=positive_int, default=20, help="at most this many")
    replaying = actions.add_parser(
        "replay", help="make failed deliveries due again, their attempts counted anew"
    )
    replaying.add_argument("--endpoint", type=UUID, help="of this endpoint only")
    replaying.add_argument("--limit", type=positive_int, default=100, help="at most this many")
