"""The REST side of the guard: every orders route is guarded, probes stay open, quotas hold.

Every auth mode gives these answers. What depends on the mode lives beside this
file: ``test_authentication.py`` (modes that authenticate), ``test_open_access.py``
(auth=none) and the attacks on the mode's credentials (``test_<mode>.py``).
"""

import os
from uuid import uuid4

import pytest
from fastapi.routing import APIRoute

from {{ cookiecutter.package_name }}.api.rest import orders, webhook_endpoints
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.rest.guarded import ORDER, client_of, quota
from tests.support import access
from tests.support.access import Grant
from tests.support.processes import free_port


def test_every_orders_route_declares_the_permission_it_needs() -> None:
    guards = [*orders.READ, *orders.WRITE]
    routes = [route for route in orders.router.routes if isinstance(route, APIRoute)]

    assert routes
    for route in routes:
        assert any(dependency in guards for dependency in route.dependencies), route.path


def test_every_webhook_endpoints_route_needs_webhooks_manage() -> None:
    routes = [route for route in webhook_endpoints.router.routes if isinstance(route, APIRoute)]

    assert routes
    for route in routes:
        assert webhook_endpoints.MANAGE[0] in route.dependencies, route.path


async def test_probes_and_metrics_need_no_credentials(settings: Settings) -> None:
    async with client_of(settings) as anonymous:
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await anonymous.get(path)
            assert response.status_code == 200, path
            assert "RateLimit" not in response.headers


async def test_admitted_calls_report_their_quota(
    settings: Settings, credentials: Credentials | None
) -> None:
    async with client_of(settings, access.headers(credentials)) as client:
        first = await client.get("/v1/orders")
        second = await client.get("/v1/orders")

    # Without credentials (auth=none) every call is counted per address.
    policy = "per-ip" if credentials is None else "per-caller"
    rate = settings.rate_limit_per_ip if credentials is None else settings.rate_limit_per_caller
    assert first.headers["RateLimit-Policy"] == f'"{policy}";q={rate.split("/")[0]};w=60'
    assert int(quota(second)["r"]) == int(quota(first)["r"]) - 1
    assert 1 <= int(quota(first)["t"]) <= 60


@pytest.mark.usefixtures("one_rate_window")
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


@pytest.mark.usefixtures("one_rate_window")
async def test_a_create_is_admitted_and_counted_once(settings: Settings, grant: Grant) -> None:
    # The route names its guard twice (its permission, and the caller its key belongs to).
    limited = settings.model_copy(
        update={"rate_limit_per_caller": "5/minute", "rate_limit_per_ip": "5/minute"}
    )
    caller = await grant(*Permission, subject=f"caller-{uuid4().hex[:8]}")
    async with client_of(limited, access.headers(caller), address="192.0.2.10") as client:
        created = await client.post(
            "/v1/orders", json=ORDER, headers={"Idempotency-Key": str(uuid4())}
        )

    assert created.status_code == 201
    assert quota(created)["r"] == "4"


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


@pytest.mark.usefixtures("one_rate_window")
async def test_replicas_share_their_counts_through_redis(
    redis_settings: Settings, grant: Grant
) -> None:
    caller = access.headers(await grant(*Permission, subject=f"caller-{uuid4().hex[:8]}"))
    async with (
        client_of(redis_settings, caller) as one,
        client_of(redis_settings, caller) as another,
    ):
        statuses = [
            (await replica.get("/v1/orders")).status_code for replica in (one, another, one)
        ]
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
