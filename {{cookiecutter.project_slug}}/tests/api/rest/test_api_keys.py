"""API keys through the REST API: 401 with a challenge, 403, nothing in the logs."""

import io
from typing import Any
from uuid import uuid4

import httpx

from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyIssuer, KeyFormat
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore
from tests.support import access
from tests.support.access import Grant
from tests.support.api_keys import assert_no_key_in, with_secret

READ = Permission.ORDERS_READ.value


def an_order() -> dict[str, Any]:
    return {
        "customer_id": "api-keys",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 100}],
    }


async def test_a_call_without_a_key_is_challenged(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/v1/orders")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith('ApiKey realm="')


async def test_a_call_with_a_bad_key_is_refused(
    settings: Settings, anonymous: httpx.AsyncClient
) -> None:
    _, unknown = KeyFormat(settings.api_key_prefix).new_key()
    for key in (unknown, unknown[:-1], "not-a-key"):
        response = await anonymous.get("/v1/orders", headers={"X-API-Key": key})

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"
        assert response.headers["WWW-Authenticate"].startswith('ApiKey realm="')


async def test_a_read_only_key_may_read_but_not_write(
    anonymous: httpx.AsyncClient, grant: Grant
) -> None:
    headers = access.headers(await grant(Permission.ORDERS_READ))

    assert (await anonymous.get("/v1/orders", headers=headers)).status_code == 200
    refused_write = await anonymous.post("/v1/orders", json=an_order(), headers=headers)

    assert refused_write.status_code == 403
    assert refused_write.json()["error"]["code"] == "permission_denied"
    assert 'scope="orders:write"' in refused_write.headers["WWW-Authenticate"]


async def use_the_api(anonymous: httpx.AsyncClient, keys: list[str]) -> None:
    for key in keys:
        await anonymous.post("/v1/orders", json=an_order(), headers={"X-API-Key": key})


async def test_a_key_never_reaches_the_log(
    settings: Settings,
    api_keys: ApiKeyStore,
    service_log: io.StringIO,
    anonymous: httpx.AsyncClient,
) -> None:
    issuer = ApiKeyIssuer.from_settings(settings, api_keys)
    issued = await issuer.issue(f"client-{uuid4().hex[:12]}", [READ])
    forged = with_secret(issued.key, "0" * 32)

    await use_the_api(anonymous, [issued.key, forged])

    assert_no_key_in(service_log.getvalue(), issued, forged)
