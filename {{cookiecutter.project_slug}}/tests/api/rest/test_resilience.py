"""Probes, outages and crashes: the API answers in its envelope, never with a trace."""

import io
from collections.abc import AsyncIterator
from functools import partial
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.resilience.errors import CircuitOpenError
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}


async def test_readiness_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_an_unexpected_failure_of_a_check_is_503_and_logged(
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    service_log: io.StringIO,
) -> None:
    async def surprise() -> None:
        raise RuntimeError("a driver's surprise")

    monkeypatch.setattr(app.state.container.storage, "ping", surprise)
    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
    assert "readiness_check_failed" in service_log.getvalue()
    assert "a driver's surprise" in service_log.getvalue()


async def is_ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


@pytest.fixture
async def proxied_client(
    proxied_database: tuple[Settings, TcpProxy], credentials: Credentials | None
) -> AsyncIterator[tuple[httpx.AsyncClient, TcpProxy]]:
    """A client of the app whose database is behind the proxy, once the app is ready.

    The proxied settings fail fast (a 1 s server selection on MongoDB), so a
    request sent before the app's first connection is up may fail on a busy machine.
    """
    settings, proxy = proxied_database
    app = create_app(settings.model_copy(update={"log_requests": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=access.headers(credentials)
        ) as http:
            await eventually(partial(is_ready, http))
            yield http, proxy


async def test_database_outage_is_503_and_recovers(
    proxied_client: tuple[httpx.AsyncClient, TcpProxy], customer_id: str
) -> None:
    client, proxy = proxied_client
    body = {
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 100}],
    }
    before = await client.post("/v1/orders", json=body)
    assert before.status_code == 201

    proxy.cut()
    read = await client.get(f"/v1/orders/{before.json()['id']}")
    write = await client.post("/v1/orders", json=body)
    ready = await client.get("/readyz")

    for response in (read, write):
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert response.headers["retry-after"] == "5"
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}

    proxy.restore()
    await eventually(partial(is_ready, client))
    after = await client.get(f"/v1/orders/{before.json()['id']}")
    assert after.status_code == 200
    listing = await client.get("/v1/orders", params={"customer_id": customer_id})
    assert [order["id"] for order in listing.json()["data"]] == [before.json()["id"]]


async def test_unexpected_error_is_500_without_internals(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(order_id: UUID) -> None:
        raise RuntimeError(f"secret internals of {order_id}")

    monkeypatch.setattr(app.state.container.orders, "get", explode)

    response = await client.get("/v1/orders/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "An unexpected error occurred.",
        "details": [],
    }
    assert "secret" not in response.text
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(("retry_after", "header"), [(7.2, "8"), (3, "3"), (0.01, "1")])
async def test_an_open_circuit_downstream_is_503_with_its_retry_after(
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    retry_after: float,
    header: str,
) -> None:
    async def refused(order_id: UUID) -> None:
        raise CircuitOpenError("payments", retry_after_seconds=retry_after)

    monkeypatch.setattr(app.state.container.orders, "get", refused)

    response = await client.get("/v1/orders/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 503
    assert response.headers["retry-after"] == header  # whole seconds, rounded up, at least 1
    error = response.json()["error"]
    assert (error["code"], error["details"]) == ("service_unavailable", [])
    assert "payments" in error["message"]


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/v1/orders/00000000-0000-0000-0000-000000000001")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert (
        'http_server_requests_total{method="GET",route="/v1/orders/{order_id}",status="404"}'
        in response.text
    )
    assert "http_server_request_duration_seconds_bucket" in response.text
