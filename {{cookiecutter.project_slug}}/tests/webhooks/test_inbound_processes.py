"""Webhooks received by a running `serve` process; the purge of old ids, as operators run it."""

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.container import build_container
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine, OrderStatus
from {{ cookiecutter.package_name }}.settings import Settings, WebhookSourceSettings
from tests.support.commands import run_command
from tests.support.inbound_webhooks import (
    PAYMENTS,
    PAYMENTS_PATH,
    json_lines,
    new_secret,
    payment,
    signed,
)
from tests.support.processes import start_serving, wait_until_ready


def test_serve_receives_webhooks_on_its_http_port(
    database_settings: Settings, serve_environment: dict[str, str]
) -> None:
    secret = new_secret()
    settings = database_settings.model_copy(
        update={"webhooks_payments": WebhookSourceSettings(secrets=SecretStr(secret))}
    )

    async def place_order() -> Order:
        async with build_container(settings) as container:
            new = NewOrder("webhook-serve", "EUR", (OrderLine("SKU-1", 1, 100),))
            return (await container.orders.create(new)).order

    async def read_order(order_id: UUID) -> Order:
        async with build_container(settings) as container:
            return await container.orders.get(order_id)

    order = asyncio.run(place_order())
    process = start_serving(settings, **serve_environment)
    try:
        base_url = f"http://127.0.0.1:{serve_environment['HTTP_PORT']}"
        wait_until_ready(base_url, process)
        body = payment(order.id)
        response = httpx.post(
            f"{base_url}{PAYMENTS_PATH}", content=body, headers=signed(secret, body), timeout=10
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "applied"}
    assert b'"event":"webhook_received"' in output
    assert secret.encode() not in output
    assert asyncio.run(read_order(order.id)).status is OrderStatus.CONFIRMED


async def test_purge_forgets_only_ids_past_the_retention(fresh_database_settings: Settings) -> None:
    now = datetime.now(UTC)
    async with build_container(fresh_database_settings) as container:
        async with container.storage.unit_of_work() as uow:
            await uow.webhook_inbox.record(PAYMENTS, "msg_old", now - timedelta(hours=721))
            await uow.webhook_inbox.record(PAYMENTS, "msg_recent", now - timedelta(hours=719))
            await uow.commit()

        result = run_command(fresh_database_settings, "purge-received-webhooks")

        assert result.returncode == 0, result.stderr
        logged = json_lines(result.stdout)
        assert [r["count"] for r in logged if r["event"] == "received_webhooks_purged"] == [1]
        async with container.storage.unit_of_work() as uow:
            assert await uow.webhook_inbox.record(PAYMENTS, "msg_old", now)
            assert not await uow.webhook_inbox.record(PAYMENTS, "msg_recent", now)
