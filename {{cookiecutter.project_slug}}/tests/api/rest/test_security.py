"""The REST side of the guard: every orders route is guarded, probes stay open, quotas hold.

The attacks on each kind of credential live in ``tests/auth``; here every mode
must give the same answers through the same transport.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import httpx
import pytest
from fastapi.routing import APIRoute

from {{ cookiecutter.package_name }}.api.rest import orders
from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access
from tests.support.access import Grant
from tests.support.processes import free_port

ORDER = {
    "customer_id": "guarded",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 100}],
}


@asynccontextmanager
async def client_of(
    settings: Settings, headers: dict[str, str] | None = None, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app on ``settings``, calling from ``address``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(address, 50_000)
        )
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as http:
            yield http


def quota(response: httpx.Response) -> dict[str, str]:
    """The parameters of the ``RateLimit`` header: ``{"r": "41", "t": "60"}``."""
    _, *parameters = response.headers["RateLimit"].split(";")
    return dict(parameter.split("=") for parameter in parameters)


def test_every_orders_route_declares_the_permission_it_needs() -> None:
    guards = [*orders.READ, *orders.WRITE]
    routes = [route for route in orders.router.routes if isinstance(route, APIRoute)]

    assert routes
    for route in routes:
        assert any(dependency in guards for dependency in route.dependencies), route.path


async def test_probes_and_metrics_need_no_credentials(settings: Settings) -> None:
    async with client_of(settings) as anonymous:
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await anonymous.get(path)
            assert response.status_code == 200, path
            assert "RateLimit" not in response.headers
{%- if cookiecutter.auth != "none" %}


async def test_a_call_without_credentials_is_401_with_a_challenge(settings: Settings) -> None:
    async with client_of(settings) as anonymous:
        response = await anonymous.get("/v1/orders")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == f'{challenge.split()[0]} realm="{{ cookiecutter.project_slug }}"'


async def test_invalid_credentials_are_401_invalid_token(
    settings: Settings, credentials: Credentials | None
) -> None:
    assert credentials is not None
    forged = Credentials(credentials.scheme, credentials.secret[:-4] + "AAAA")
    async with client_of(settings, access.headers(forged)) as forger:
        response = await forger.get("/v1/orders")

    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_credentials",
        "message": "The credentials are not valid.",
        "details": [],
    }
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_credentials_in_the_url_are_not_accepted(
    settings: Settings, credentials: Credentials | None
) -> None:
    assert credentials is not None
    async with client_of(settings) as client:
        for name in ("access_token", "api_key", "token"):
            response = await client.get("/v1/orders", params={name: credentials.secret})
            assert response.status_code == 401, name


async def test_another_authorization_scheme_is_refused(settings: Settings) -> None:
    async with client_of(settings, {"Authorization": "Basic dXNlcjpwYXNz"}) as other:
        response = await other.get("/v1/orders")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_a_caller_without_the_permission_is_403(settings: Settings, grant: Grant) -> None:
    reader = await grant(Permission.ORDERS_READ, subject=f"reader-{uuid4().hex[:8]}")
    async with client_of(settings, access.headers(reader)) as client:
        read = await client.get("/v1/orders")
        write = await client.post("/v1/orders", json=ORDER)

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "permission_denied"
    assert 'error="insufficient_scope", scope="orders:write"' in write.headers["WWW-Authenticate"]


async def test_credentials_are_checked_before_the_body(settings: Settings) -> None:
    async with client_of(settings) as anonymous:
        response = await anonymous.post("/v1/orders", json={"not": "an order"})

    assert response.status_code == 401


async def test_guessing_credentials_runs_into_the_per_ip_quota(
    settings: Settings, credentials: Credentials | None
) -> None:
    assert credentials is not None
    limited = settings.model_copy(update={"rate_limit_per_ip": "3/minute"})
    forged = Credentials(credentials.scheme, "guess")
    async with client_of(limited, access.headers(forged), address="192.0.2.7") as guesser:
        statuses = [(await guesser.get("/v1/orders")).status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


async def test_quotas_are_counted_per_caller(settings: Settings, grant: Grant) -> None:
    limited = settings.model_copy(update={"rate_limit_per_caller": "2/minute"})
    first = await grant(*Permission, subject=f"first-{uuid4().hex[:8]}")
    second = await grant(*Permission, subject=f"second-{uuid4().hex[:8]}")
    async with client_of(limited) as client:
        spent = [
            (await client.get("/v1/orders", headers=access.headers(first))).status_code
            for _ in range(3)
        ]
        other = await client.get("/v1/orders", headers=access.headers(second))

    assert spent == [200, 200, 429]
    assert other.status_code == 200
{%- else %}


async def test_every_caller_is_trusted_and_counted_per_address(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_ip": "2/minute"})
    async with client_of(limited, address="192.0.2.1") as first:
        spent = [(await first.get("/v1/orders")).status_code for _ in range(3)]
    async with client_of(limited, address="192.0.2.2") as second:
        other = await second.get("/v1/orders")

    assert spent == [200, 200, 429]
    assert other.status_code == 200
{%- endif %}


async def test_admitted_calls_report_their_quota(
    settings: Settings, credentials: Credentials | None
) -> None:
    async with client_of(settings, access.headers(credentials)) as client:
        first = await client.get("/v1/orders")
        second = await client.get("/v1/orders")

    policy = "{{ 'per-ip' if cookiecutter.auth == 'none' else 'per-caller' }}"
    rate = settings.{{ 'rate_limit_per_ip' if cookiecutter.auth == 'none' else 'rate_limit_per_caller' }}
    assert first.headers["RateLimit-Policy"] == f'"{policy}";q={rate.split("/")[0]};w=60'
    assert int(quota(second)["r"]) == int(quota(first)["r"]) - 1
    assert 1 <= int(quota(first)["t"]) <= 60


async def test_a_call_beyond_the_quota_is_429_with_retry_after(
    settings: Settings, grant: Grant
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_per_caller": "2/minute", "rate_limit_per_ip": "2/minute"}
    )
    caller = await grant(*Permission, subject=f"caller-{uuid4().hex[:8]}")
    async with client_of(limited, access.headers(caller), address="192.0.2.9") as client:
        for _ in range(2):
            assert (await client.get("/v1/orders")).status_code == 200
        refused = await client.post("/v1/orders", json=ORDER)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert quota(refused)["r"] == "0"
    assert refused.headers["RateLimit-Policy"].endswith(";q=2;w=60")


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    """Settings that count in the test Redis, under a key prefix of this test alone."""
    return settings.model_copy(
        update={
            "rate_limit_redis_url": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "rate_limit_key_prefix": f"test-{uuid4().hex}",
            "rate_limit_per_caller": "3/minute",
            "rate_limit_per_ip": "3/minute",
        }
    )


async def test_replicas_share_their_counts_through_redis(
    redis_settings: Settings, grant: Grant
) -> None:
    caller = access.headers(await grant(*Permission, subject=f"caller-{uuid4().hex[:8]}"))
    async with (
        client_of(redis_settings, caller) as one,
        client_of(redis_settings, caller) as another,
    ):
        statuses = [(await replica.get("/v1/orders")).status_code for replica in (one, another, one)]
        refused = await another.get("/v1/orders")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429


async def test_an_unreachable_rate_limit_store_lets_calls_through(
    redis_settings: Settings, grant: Grant
) -> None:
    gone = redis_settings.model_copy(
        update={"rate_limit_redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    caller = access.headers(await grant(*Permission, subject=f"caller-{uuid4().hex[:8]}"))
    async with client_of(gone, caller) as client:
        responses = [await client.get("/v1/orders") for _ in range(5)]

    assert [response.status_code for response in responses] == [200] * 5
    assert all("RateLimit" not in response.headers for response in responses)
