"""OAuth 2.0 access tokens through the REST API: 401 with a challenge, 403, an issuer outage."""

import signal

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access
from tests.support.access import bearer
from tests.support.issuer import LocalIssuer
from tests.support.oauth2_tokens import FORGERIES, Forgery
from tests.support.processes import free_port, start_serving, wait_until_ready

ORDER = {
    "customer_id": "oauth2",
    "currency": "EUR",
    "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}],
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_the_api_answers_401_with_a_challenge_to_forged_tokens(
    anonymous: httpx.AsyncClient, issuer: LocalIssuer, forge: Forgery
) -> None:
    response = await anonymous.get("/v1/orders", headers=access.headers(bearer(forge(issuer))))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_the_api_answers_401_without_error_to_a_call_without_a_token(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/v1/orders")

    assert response.status_code == 401
    assert "error=" not in response.headers["WWW-Authenticate"]


async def test_a_read_only_token_reads_but_may_not_write(
    anonymous: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    headers = access.headers(bearer(issuer.access_token("reader", "orders:read")))

    assert (await anonymous.get("/v1/orders", headers=headers)).status_code == 200
    response = await anonymous.post("/v1/orders", json=ORDER, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope", scope="orders:write"' in challenge


async def test_a_token_with_the_write_scope_places_an_order(
    anonymous: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    token = issuer.access_token("writer", "orders:write", key=issuer.key("ES256"))

    response = await anonymous.post("/v1/orders", json=ORDER, headers=access.headers(bearer(token)))

    assert response.status_code == 201


def _call(base_url: str, token: str) -> int:
    return httpx.get(
        f"{base_url}/v1/orders", headers=access.headers(bearer(token)), timeout=10
    ).status_code


def test_the_service_starts_while_the_issuer_is_down_and_answers_503_until_it_is_up(
    database_settings: Settings, issuer: LocalIssuer
) -> None:
    nobody = database_settings.model_copy(
        update={"oauth2_issuer": f"http://127.0.0.1:{free_port()}"}
    )
    port = free_port()
    process = start_serving(nobody, HTTP_PORT=str(port))
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process)
        status = _call(f"http://127.0.0.1:{port}", issuer.access_token("caller", "orders:read"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)

    assert status == 503


def test_tokens_never_reach_the_logs(database_settings: Settings, issuer: LocalIssuer) -> None:
    tokens = [forge(issuer) for forge in FORGERIES.values()]
    valid = issuer.access_token("caller", "orders:read")
    port = free_port()
    process = start_serving(database_settings, HTTP_PORT=str(port), LOG_LEVEL="DEBUG")
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(base_url, process)
        statuses = [_call(base_url, token) for token in tokens]
        accepted = _call(base_url, valid)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert set(statuses) == {401}
    assert accepted == 200
    assert b"authentication_failed" in output
    for token in [*tokens, valid]:
        for part in token.split("."):
            assert len(part) < 16 or part.encode() not in output
