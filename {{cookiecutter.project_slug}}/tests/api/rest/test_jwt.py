"""JWT bearer tokens through the REST API: 401 with a challenge, 403, nothing in the logs."""

import io

import httpx
import pytest

from {{ cookiecutter.package_name }}.auth.jwt import issue_token
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access
from tests.support.access import bearer
from tests.support.jwt_tokens import INVALID_TOKENS, Token, signed, with_payload

REALM = "{{ cookiecutter.project_slug }}"


ORDERS = "/v1/orders"
ORDER = {
    "customer_id": "customer-jwt",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 100}],
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service logs every request here: no log line may hold a token either."""
    return settings.model_copy(update={"log_requests": True})


async def test_a_valid_token_may_write_and_read(
    anonymous: httpx.AsyncClient, token_settings: Settings
) -> None:
    headers = access.headers(bearer(issue_token(token_settings, "alice", Permission)))

    created = await anonymous.post(ORDERS, json=ORDER, headers=headers)
    read = await anonymous.get(created.headers["location"], headers=headers)

    assert created.status_code == 201, created.text
    assert read.status_code == 200


async def test_no_token_is_a_401_with_a_bearer_challenge(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(ORDERS)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}"'
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("make", INVALID_TOKENS.values(), ids=INVALID_TOKENS.keys())
async def test_an_invalid_token_is_a_401_invalid_token(
    anonymous: httpx.AsyncClient, token_settings: Settings, make: Token
) -> None:
    response = await anonymous.get(ORDERS, headers=access.headers(bearer(make(token_settings))))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}", error="invalid_token"'
    assert response.json()["error"] == {
        "code": "invalid_credentials",
        "message": "The credentials are not valid.",
        "details": [],
    }


async def test_another_authorization_scheme_is_a_401_invalid_token(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get(ORDERS, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_read_only_token_may_read_but_not_write(
    anonymous: httpx.AsyncClient, grant: access.Grant
) -> None:
    headers = access.headers(await grant(Permission.ORDERS_READ))

    listed = await anonymous.get(ORDERS, headers=headers)
    created = await anonymous.post(ORDERS, json=ORDER, headers=headers)

    assert listed.status_code == 200
    assert created.status_code == 403
    assert created.headers["www-authenticate"] == (
        f'Bearer realm="{REALM}", error="insufficient_scope", scope="orders:write"'
    )
    assert created.json()["error"]["code"] == "permission_denied"


async def test_tokens_never_reach_the_logs(
    anonymous: httpx.AsyncClient,
    token_settings: Settings,
    grant: access.Grant,
    service_log: io.StringIO,
) -> None:
    tampered = with_payload(signed(token_settings), sub="root")
    read_only = await grant(Permission.ORDERS_READ)
    assert read_only is not None

    refused = await anonymous.get(ORDERS, headers=access.headers(bearer(tampered)))
    denied = await anonymous.post(ORDERS, json=ORDER, headers=access.headers(read_only))

    assert (refused.status_code, denied.status_code) == (401, 403)
    logged = service_log.getvalue()
    assert "authentication_failed" in logged
    assert "permission_denied" in logged
    for token in (tampered, read_only.secret):
        for part in token.split("."):
            assert part not in logged
