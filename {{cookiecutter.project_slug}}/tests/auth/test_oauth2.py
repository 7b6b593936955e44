"""Access tokens from the issuer: accepted when right, refused (and how) when forged or wrong."""

{% if cookiecutter.api == "grpc" -%}
import asyncio
{% endif -%}
import base64
import hashlib
import hmac
import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

{% if cookiecutter.api == "grpc" -%}
import grpc
{% else -%}
import httpx
{% endif -%}
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
{%- if cookiecutter.api == "grpc" %}
from grpc import aio
{%- endif %}
from pydantic import ValidationError

{% if cookiecutter.api == "grpc" -%}
from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
{% endif -%}
from {{ cookiecutter.package_name }}.auth.credentials import Credentials, CredentialScheme
from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.oauth2 import OAuth2Authenticator
from {{ cookiecutter.package_name }}.auth.principal import Permission
{%- if cookiecutter.api == "grpc" %}
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings
{%- if cookiecutter.api == "grpc" %}
from tests.api.grpc.calls import new_order
{%- endif %}
from tests.support import access
from tests.support.issuer import LocalIssuer, SigningKey
from tests.support.processes import free_port, start_serving, wait_until_ready

type Forgery = Callable[[LocalIssuer], str]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


def unsigned(issuer: LocalIssuer) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": issuer.signing_key.kid}
    return f"{_segment(header)}.{_segment(issuer.claims('mallory', 'orders:write'))}."


def hmac_with_the_public_key(issuer: LocalIssuer) -> str:
    """HS/RS confusion: HS256 keyed with the issuer's public key, which anyone can read."""
    public = issuer.signing_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": issuer.signing_key.kid}
    signing_input = f"{_segment(header)}.{_segment(issuer.claims('mallory', 'orders:write'))}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def plain_jwt(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read"), headers={"typ": "JWT"})


def expired(issuer: LocalIssuer) -> str:
    now = int(time.time())
    return issuer.sign(issuer.claims("caller", "orders:read", iat=now - 7200, exp=now - 3600))


def not_yet_valid(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read", nbf=int(time.time()) + 3600))


def for_another_audience(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read", aud="another-service"))


def from_another_issuer_name(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read", iss="https://impostor.example"))


def with_an_unknown_kid(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read"), headers={"kid": "no-such-key"})


def without_a_kid(issuer: LocalIssuer) -> str:
    token = issuer.sign(issuer.claims("caller", "orders:read"))
    _, payload, signature = token.split(".")
    return f"{_segment({'alg': 'RS256', 'typ': 'at+jwt'})}.{payload}.{signature}"


def signed_by_another_issuers_key(issuer: LocalIssuer) -> str:
    """Another issuer's key that claims the kid of ours."""
    other = SigningKey.generate("RS256")
    impostor = SigningKey(issuer.signing_key.kid, "RS256", other.private)
    return issuer.sign(issuer.claims("mallory", "orders:write"), key=impostor)


def with_a_tampered_payload(issuer: LocalIssuer) -> str:
    header, _, signature = issuer.access_token("caller", "orders:read").split(".")
    return f"{header}.{_segment(issuer.claims('caller', 'orders:read orders:write'))}.{signature}"


def with_a_tampered_signature(issuer: LocalIssuer) -> str:
    header, payload, signature = issuer.access_token("caller", "orders:read").split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{header}.{payload}.{_b64(bytes(raw))}"


def without_client_id(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read", client_id=None))


def without_jti(issuer: LocalIssuer) -> str:
    return issuer.sign(issuer.claims("caller", "orders:read", jti=None))


def not_a_jwt(_: LocalIssuer) -> str:
    return "not-a-jwt"


FORGERIES: dict[str, Forgery] = {
    "alg-none": unsigned,
    "hs256-with-the-rsa-public-key": hmac_with_the_public_key,
    "plain-jwt-type": plain_jwt,
    "expired": expired,
    "not-yet-valid": not_yet_valid,
    "wrong-audience": for_another_audience,
    "wrong-issuer": from_another_issuer_name,
    "unknown-kid": with_an_unknown_kid,
    "no-kid": without_a_kid,
    "another-issuers-key": signed_by_another_issuers_key,
    "tampered-payload": with_a_tampered_payload,
    "tampered-signature": with_a_tampered_signature,
    "no-client-id": without_client_id,
    "no-jti": without_jti,
    "not-a-jwt": not_a_jwt,
}


def bearer(token: str) -> Credentials:
    return Credentials(CredentialScheme.BEARER, token)


@pytest.fixture
async def authenticator(settings: Settings) -> AsyncIterator[OAuth2Authenticator]:
    authenticator = OAuth2Authenticator.from_settings(settings)
    yield authenticator
    await authenticator.close()


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_tokens_signed_with_a_published_key_are_accepted(
    authenticator: OAuth2Authenticator, issuer: LocalIssuer, algorithm: str
) -> None:
    token = issuer.access_token("svc-a", "orders:read unknown:scope", key=issuer.key(algorithm))

    principal = await authenticator.authenticate(token)

    assert principal.subject == "svc-a"
    assert principal.permissions == {Permission.ORDERS_READ}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_the_authenticator_refuses_forged_and_wrong_tokens(
    authenticator: OAuth2Authenticator, issuer: LocalIssuer, forge: Forgery
) -> None:
    with pytest.raises(InvalidCredentialsError):
        await authenticator.authenticate(forge(issuer))


async def test_a_key_declared_for_one_algorithm_verifies_no_other(
    settings: Settings, issuer: LocalIssuer
) -> None:
    lenient = settings.model_copy(update={"oauth2_algorithms": ("RS256", "PS256")})
    authenticator = OAuth2Authenticator.from_settings(lenient)
    key = issuer.key("RS256")  # its JWK says alg RS256
    token = jwt.encode(
        issuer.claims("caller", "orders:read"),
        key.private,
        algorithm="PS256",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )
    try:
        with pytest.raises(InvalidCredentialsError, match="is for RS256"):
            await authenticator.authenticate(token)
    finally:
        await authenticator.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OAUTH2_ISSUER", "ftp://login.example.com"),
        ("OAUTH2_ISSUER", "https://login.example.com/?tenant=a"),
        ("OAUTH2_ALGORITHMS", '["HS256"]'),
        ("OAUTH2_ALGORITHMS", '["none"]'),
        ("OAUTH2_ALGORITHMS", "[]"),
    ],
)
def test_settings_refuse_unusable_issuers_and_algorithms(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_serving_without_an_issuer_fails_at_start_naming_the_setting(
    database_settings: Settings,
) -> None:
    unconfigured = database_settings.model_copy(update={"oauth2_issuer": None})
    process = start_serving(unconfigured, HTTP_PORT=str(free_port()), GRPC_PORT=str(free_port()))
    output, _ = process.communicate(timeout=30)

    assert process.returncode == 2
    assert b"invalid configuration: OAUTH2_ISSUER" in output
{%- if cookiecutter.api == "rest" %}


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
{%- else %}


def client_with(channel: aio.Channel, token: str | None) -> OrdersClient:
    return OrdersClient(channel, metadata=access.metadata(bearer(token) if token else None))


async def status_of(client: OrdersClient) -> grpc.StatusCode:
    try:
        await client.list_orders(orders_pb2.ListOrdersRequest())
    except aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_the_api_answers_unauthenticated_to_forged_tokens(
    channel: aio.Channel, issuer: LocalIssuer, forge: Forgery
) -> None:
    assert await status_of(client_with(channel, forge(issuer))) == grpc.StatusCode.UNAUTHENTICATED


async def test_the_api_answers_unauthenticated_to_a_call_without_a_token(
    channel: aio.Channel,
) -> None:
    assert await status_of(client_with(channel, None)) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_read_only_token_reads_but_may_not_write(
    channel: aio.Channel, issuer: LocalIssuer
) -> None:
    client = client_with(channel, issuer.access_token("reader", "orders:read"))

    assert await status_of(client) == grpc.StatusCode.OK
    with pytest.raises(aio.AioRpcError) as refused:
        await client.create_order(new_order("oauth2"))

    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_token_with_the_write_scope_places_an_order(
    channel: aio.Channel, issuer: LocalIssuer
) -> None:
    token = issuer.access_token("writer", "orders:write", key=issuer.key("ES256"))

    placed = await client_with(channel, token).create_order(new_order("oauth2"))

    assert placed.id


async def _statuses(target: str, tokens: list[str]) -> list[grpc.StatusCode]:
    async with open_channel(target) as channel:
        return [await status_of(client_with(channel, token)) for token in tokens]


def test_the_service_starts_while_the_issuer_is_down_and_answers_unavailable(
    database_settings: Settings, issuer: LocalIssuer
) -> None:
    nobody = database_settings.model_copy(
        update={"oauth2_issuer": f"http://127.0.0.1:{free_port()}"}
    )
    grpc_port, http_port = free_port(), free_port()
    process = start_serving(nobody, GRPC_PORT=str(grpc_port), HTTP_PORT=str(http_port))
    try:
        wait_until_ready(f"http://127.0.0.1:{http_port}", process)
        token = issuer.access_token("caller", "orders:read")
        statuses = asyncio.run(_statuses(f"127.0.0.1:{grpc_port}", [token]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)

    assert statuses == [grpc.StatusCode.UNAVAILABLE]


def test_tokens_never_reach_the_logs(database_settings: Settings, issuer: LocalIssuer) -> None:
    tokens = [forge(issuer) for forge in FORGERIES.values()]
    valid = issuer.access_token("caller", "orders:read")
    grpc_port, http_port = free_port(), free_port()
    process = start_serving(
        database_settings, GRPC_PORT=str(grpc_port), HTTP_PORT=str(http_port), LOG_LEVEL="DEBUG"
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{http_port}", process)
        statuses = asyncio.run(_statuses(f"127.0.0.1:{grpc_port}", [*tokens, valid]))
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert statuses == [grpc.StatusCode.UNAUTHENTICATED] * len(tokens) + [grpc.StatusCode.OK]
    assert b"authentication_failed" in output
    for token in [*tokens, valid]:
        for part in token.split("."):
            assert len(part) < 16 or part.encode() not in output
{%- endif %}
