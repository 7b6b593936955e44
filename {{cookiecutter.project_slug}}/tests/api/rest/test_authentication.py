"""The REST guard of a service that authenticates its callers (jwt, oauth2, api_key).

Every mode must give these answers: the attacks on each kind of credential
live beside it (``test_jwt.py``, ``test_oauth2.py``, ``test_api_keys.py``).
"""

from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.rest.guarded import ORDER, client_of
from tests.support import access
from tests.support.access import Grant


async def test_a_call_without_credentials_is_401_with_a_challenge(settings: Settings) -> None:
    async with client_of(settings) as anonymous:
        response = await anonymous.get("/v1/orders")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    challenge = response.headers["WWW-Authenticate"]
    realm = "{{ cookiecutter.project_slug }}"
    assert challenge == f'{challenge.split()[0]} realm="{realm}"'


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


@pytest.mark.usefixtures("one_rate_window")
async def test_guessing_credentials_runs_into_the_per_ip_quota(
    settings: Settings, credentials: Credentials | None
) -> None:
    assert credentials is not None
    limited = settings.model_copy(update={"rate_limit_per_ip": "3/minute"})
    forged = Credentials(credentials.scheme, "guess")
    async with client_of(limited, access.headers(forged), address="192.0.2.7") as guesser:
        statuses = [(await guesser.get("/v1/orders")).status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


@pytest.mark.usefixtures("one_rate_window")
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


async def test_an_idempotency_key_belongs_to_the_caller_that_sent_it(
    settings: Settings, grant: Grant
) -> None:
    first = access.headers(await grant(*Permission, subject=f"first-{uuid4().hex[:8]}"))
    second = access.headers(await grant(*Permission, subject=f"second-{uuid4().hex[:8]}"))
    key = {"Idempotency-Key": f"order-{uuid4()}"}
    async with client_of(settings) as client:
        placed = await client.post("/v1/orders", json=ORDER, headers=first | key)
        same_key = await client.post("/v1/orders", json=ORDER, headers=second | key)
        other_body = await client.post(
            "/v1/orders", json=ORDER | {"currency": "USD"}, headers=second | key
        )
        retried = await client.post("/v1/orders", json=ORDER, headers=first | key)

    assert (placed.status_code, same_key.status_code) == (201, 201)
    assert "idempotent-replayed" not in same_key.headers
    assert same_key.json()["id"] != placed.json()["id"]
    # The second caller's own key now, reused with another body.
    assert other_body.json()["error"]["code"] == "idempotency_key_reused"
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == placed.json()


async def test_webhook_endpoints_need_webhooks_manage(settings: Settings, grant: Grant) -> None:
    orders_only = await grant(
        Permission.ORDERS_READ, Permission.ORDERS_WRITE, subject=f"orders-{uuid4().hex[:8]}"
    )
    manager = await grant(Permission.WEBHOOKS_MANAGE, subject=f"manager-{uuid4().hex[:8]}")
    hook = {"url": "http://127.0.0.1:9/hooks"}
    async with client_of(settings, access.headers(orders_only)) as client:
        listed = await client.get("/v1/webhook-endpoints")
        created = await client.post("/v1/webhook-endpoints", json=hook)
    async with client_of(settings, access.headers(manager)) as client:
        managed = await client.post("/v1/webhook-endpoints", json=hook)
        orders = await client.get("/v1/orders")

    assert listed.status_code == created.status_code == 403
    assert 'scope="webhooks:manage"' in created.headers["WWW-Authenticate"]
    assert managed.status_code == 201, managed.text
    assert orders.status_code == 403
