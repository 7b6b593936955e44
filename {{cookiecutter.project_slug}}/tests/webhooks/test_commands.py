"""The ``deliver`` worker and the ``webhook-deliveries`` commands, run as an operator runs them."""

import asyncio
import json
import signal
from uuid import uuid4

from {{ cookiecutter.package_name }}.container import Container, build_container, open_webhook_deliverer
from {{ cookiecutter.package_name }}.domain.webhooks import DeliveryStatus
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.webhooks.delivery import Outcome
from tests.support.commands import run_command
from tests.support.database import DatabaseServer
from tests.support.downstream import FAILING, Answer, MisbehavingServer
from tests.support.processes import Process, free_port
from tests.support.waiting import eventually
from tests.support.webhooks import (
    FAST_DELIVERY,
    attempts_of,
    deliveries_of,
    only_delivery,
    place_order,
    subscribe,
)


async def all_delivered(container: Container, endpoint_id: object, count: int) -> None:
    """Wait until the endpoint has ``count`` deliveries, every one received."""

    async def done() -> bool:
        deliveries = await deliveries_of(container, endpoint_id)  # type: ignore[arg-type]
        return len(deliveries) == count and all(
            delivery.status is DeliveryStatus.SUCCEEDED for delivery in deliveries
        )

    await eventually(done, seconds=30)


async def test_a_killed_worker_loses_nothing_another_takes_its_deliveries_after_the_lease(
    webhook_settings: Settings, webhook_container: Container, receiver: MisbehavingServer
) -> None:
    lease = 4.0
    settings = webhook_settings.model_copy(
        update={
            "webhooks_deliver_lease_seconds": lease,
            "webhooks_delivery": FAST_DELIVERY.model_copy(
                update={"read_timeout_seconds": 3.0, "deadline_seconds": 3.5}
            ),
        }
    )
    # The first worker's requests hang (it holds their leases); later ones are answered.
    receiver.answer(*[Answer(delay_seconds=8.0)] * 3)
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    for _ in range(3):
        await place_order(webhook_container)
    first = Process("deliver", settings)

    async def all_sent() -> bool:
        assert first.popen.poll() is None, "deliver exited"
        return receiver.count() == 3

    await eventually(all_sent, seconds=30)
    first.popen.kill()  # SIGKILL: no release, no recording, the leases stay
    await asyncio.to_thread(first.popen.communicate)  # its output closed with it
    second = Process("deliver", settings)
    try:
        await all_delivered(webhook_container, endpoint.id, 3)
    finally:
        output = await second.stop()

    assert "Traceback" not in output, output
    assert receiver.count() == 6
    claimed_at = receiver.received[0].at
    # Claimed a little before the first request arrived: the lease ended a little sooner.
    assert all(request.at >= claimed_at + lease - 0.5 for request in receiver.received[3:])
    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert sorted(ids[:3]) == sorted(ids[3:]), "the same webhook-ids, sent again"
    assert sorted(receiver.effects.values()) == [1, 1, 1]
    for delivery in await deliveries_of(webhook_container, endpoint.id):
        attempts = await attempts_of(webhook_container, delivery.id)
        assert [(a.number, a.status_code) for a in attempts] == [(1, 200)]


async def test_sigterm_lets_the_attempt_in_hand_finish_and_serves_probes_until_then(
    webhook_settings: Settings, webhook_container: Container, receiver: MisbehavingServer
) -> None:
    receiver.answer(Answer(delay_seconds=0.6))  # within the read timeout (3 s)
    endpoint = await subscribe(webhook_container, f"{receiver.url}/hooks")
    worker = Process("deliver", webhook_settings)
    await worker.wait_for_readiness(200)
    metrics = await worker.get("/metrics")
    assert metrics is not None
    assert "webhook_delivery_attempt_seconds_count" in metrics.text
    assert (await worker.get("/healthz") or metrics).status_code == 200
    await place_order(webhook_container)

    async def in_hand() -> bool:
        return receiver.count() == 1

    await eventually(in_hand, seconds=30)
    worker.popen.send_signal(signal.SIGTERM)
    output = await worker.stop()

    assert worker.popen.returncode == 0, output
    assert "Traceback" not in output, output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    events = [record["event"] for record in logged]
    assert events.index("webhook_attempted") < events.index("deliverer_stopped")
    delivery = await only_delivery(webhook_container, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)


async def test_the_worker_is_unready_while_its_database_is_unreachable(
    database_server: DatabaseServer, webhook_settings: Settings
) -> None:
    worker = Process("deliver", database_server.through(webhook_settings, free_port()))
    try:
        await worker.wait_for_readiness(503)
    finally:
        output = await worker.stop()
    assert worker.popen.returncode == 0, output


async def test_failed_deliveries_are_listed_then_replayed(
    webhook_settings: Settings, receiver: MisbehavingServer
) -> None:
    settings = webhook_settings.model_copy(update={"webhooks_retry_schedule_seconds": (0.0,)})
    receiver.answer(FAILING)
    async with (
        build_container(settings) as container,
        open_webhook_deliverer(container) as deliverer,
    ):
        endpoint = await subscribe(container, f"{receiver.url}/hooks")
        await place_order(container)
        assert await deliverer.deliver_once() == [Outcome.FAILED]
        failed = await only_delivery(container, endpoint.id)

        listed = run_command(settings, "webhook-deliveries", "list", "--status", "failed")
        assert listed.returncode == 0, listed.stderr
        (record,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert record["id"] == str(failed.id)
        assert record["endpoint_id"] == str(endpoint.id)
        assert (record["status"], record["attempts"], record["last_status_code"]) == (
            "failed",
            1,
            500,
        )
        assert record["message_id"] == failed.message_id
        other = run_command(settings, "webhook-deliveries", "list", "--endpoint", str(uuid4()))
        assert (other.returncode, other.stdout) == (0, "")

        replayed = run_command(
            settings, "webhook-deliveries", "replay", "--endpoint", str(endpoint.id)
        )
        assert replayed.returncode == 0, replayed.stderr
        logged = [json.loads(line) for line in replayed.stderr.splitlines() if line.startswith("{")]
        assert [r["count"] for r in logged if r["event"] == "webhook_deliveries_replayed"] == [1]
        again = await only_delivery(container, endpoint.id)
        assert (again.status, again.attempts) == (DeliveryStatus.PENDING, 0)
        assert await deliverer.deliver_once() == [Outcome.SUCCEEDED]
        assert receiver.count() == 2


def test_an_endpoint_that_is_not_an_id_is_refused(webhook_settings: Settings) -> None:
    result = run_command(webhook_settings, "webhook-deliveries", "list", "--endpoint", "nope")

    assert result.returncode == 2
    assert "invalid UUID value" in result.stderr
