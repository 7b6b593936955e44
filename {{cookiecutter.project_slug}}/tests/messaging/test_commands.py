"""The event commands, run as an operator runs them, against the real broker."""

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from {{ cookiecutter.package_name }}.application.customer_activity import (
    CONSUMER,
    CustomerActivityProjector,
)
from {{ cookiecutter.package_name }}.container import broker_adapter
from {{ cookiecutter.package_name }}.fulfilment.disabled import NoFulfilment
from {{ cookiecutter.package_name }}.messaging.asyncapi import documented
from {{ cookiecutter.package_name }}.messaging.port import Broker
from {{ cookiecutter.package_name }}.settings import Settings
from tests.messaging.conftest import EventPath
from tests.messaging.orders import order_created
from tests.messaging.receiving import Receiver, make_message
from tests.support.broker import BrokerServer
from tests.support.commands import run_command
from tests.support.processes import free_port


async def test_dead_letters_are_listed_then_replayed(
    broker: Broker, broker_settings: Settings
) -> None:
    poison = make_message("order-7", body=b"{broken")
    await broker.publish([poison])
    receiver = Receiver(broker)
    await (await receiver.next()).dead_letter("MalformedEventError: the body is not JSON")

    listed = run_command(broker_settings, "dead-letters", "list")
    assert listed.returncode == 0, listed.stderr
    (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (letter["id"], letter["key"]) == (poison.id, "order-7")
    assert "not JSON" in letter["error"]
    assert letter["origin"]

    replayed = run_command(broker_settings, "dead-letters", "replay", "--limit", "5")
    assert replayed.returncode == 0, replayed.stderr
    again = await receiver.next()
    assert again.message.id == poison.id
    await again.ack()
    await receiver.close()
    assert await broker.dead_letters(10) == []


def test_a_limit_below_one_is_refused(broker_settings: Settings) -> None:
    result = run_command(broker_settings, "dead-letters", "list", "--limit", "0")

    assert result.returncode == 2
    assert "must be at least 1" in result.stderr


async def test_the_broker_gone_is_a_clear_error_not_a_traceback(
    broker_server: BrokerServer, broker_settings: Settings
) -> None:
    unreachable = broker_server.through(broker_settings, free_port())

    result = run_command(unreachable, "dead-letters", "list")

    assert result.returncode == 1
    assert "command_failed" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_asyncapi_writes_the_document_to_stdout(broker_settings: Settings) -> None:
    result = run_command(broker_settings, "asyncapi", "--output", "-")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == documented(broker_adapter())


async def test_purge_forgets_only_event_ids_past_the_retention(
    event_path: EventPath, customer_id: str
) -> None:
    projector = CustomerActivityProjector(
        event_path.container.events,
        NoFulfilment(),
        transaction_retry=event_path.container.transaction_retry,
    )
    handled = [order_created(customer_id)]
    for event in handled:
        assert await projector.handle(event)
    stale = uuid4()
    async with event_path.container.events.unit_of_work() as uow:
        await uow.inbox.record(CONSUMER, stale, datetime.now(UTC) - timedelta(hours=200))
        await uow.commit()

    result = run_command(event_path.settings, "purge-processed-events")

    assert result.returncode == 0, result.stderr
    logged = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["count"] for r in logged if r["event"] == "processed_events_purged"] == [1]
    assert not await projector.handle(handled[0]), "a recent id is still remembered"
