"""Outbound tokens from the local issuer, and the httpx2 auth flow against a real endpoint."""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import jwt
import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.auth.client_credentials import (
    BearerAuth,
    ClientCredentials,
    TokenRefusedError,
)
from {{ cookiecutter.package_name }}.auth.jwks import IssuerUnavailableError
from {{ cookiecutter.package_name }}.auth.oauth2 import OAuth2Authenticator
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.domain.errors import ErrorKind
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.downstream import FAST, downstream_client
from tests.support.issuer import POLL_SECONDS, LocalIssuer
from tests.support.processes import free_port

AUDIENCE = "other-service"
CLIENT_ID = "orders service"  # a space and reserved characters: both form-encoded in Basic
SECRET = "s3cr3t:/+&%"  # noqa: S105 - the test client's
LIFETIME = 300


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """Another service on loopback: 401 to revoked tokens, 200 (echoing the body) otherwise."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.refuse_all = False
        self.seen: list[tuple[str, bytes]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/things"

    def __enter__(self) -> "Endpoint":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                authorization = self.headers.get("Authorization", "")
                endpoint.seen.append((authorization, body))
                token = authorization.removeprefix("Bearer ")
                refused = endpoint.refuse_all or token in endpoint.revoked or not token
                self.send_response(HTTPStatus.UNAUTHORIZED if refused else HTTPStatus.OK)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                del format, args

        return Handler


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(AUDIENCE, token_lifetime_seconds=LIFETIME) as running:
        running.register(CLIENT_ID, SECRET, "orders:read orders:write")
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def tokens(issuer: LocalIssuer, clock: Clock) -> AsyncIterator[ClientCredentials]:
    provider = ClientCredentials(
        downstream_client(),
        issuer.issuer,
        CLIENT_ID,
        SecretStr(SECRET),
        "orders:read",
        clock=clock,
    )
    yield provider
    await provider.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with Endpoint() as running:
        yield running


async def test_the_token_is_an_access_token_the_other_service_accepts(
    tokens: ClientCredentials, issuer: LocalIssuer
) -> None:
    token = await tokens.token()

    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    settings = Settings(oauth2_issuer=issuer.issuer, oauth2_audience=AUDIENCE)
    authenticator = OAuth2Authenticator.from_settings(settings, MemoryBreakerStore())
    try:
        principal = await authenticator.authenticate(token)
    finally:
        await authenticator.close()
    assert principal.subject == CLIENT_ID
    assert principal.permissions == {Permission.ORDERS_READ}


async def test_the_token_is_reused_until_shortly_before_it_expires(
    tokens: ClientCredentials, issuer: LocalIssuer, clock: Clock
) -> None:
    first = await tokens.token()
    clock.now += LIFETIME - 31
    assert await tokens.token() == first
    assert issuer.requests["token"] == 1

    clock.now += 1

    assert await tokens.token() != first
    assert issuer.requests["token"] == 2
    assert issuer.requests["discovery"] == 1


async def test_concurrent_callers_share_one_token_request(
    tokens: ClientCredentials, issuer: LocalIssuer
) -> None:
    fetched = await asyncio.gather(*(tokens.token() for _ in range(20)))

    assert len(set(fetched)) == 1
    assert issuer.requests["token"] == 1


async def test_a_wrong_secret_is_a_clear_refusal(issuer: LocalIssuer) -> None:
    wrong = ClientCredentials(downstream_client(), issuer.issuer, CLIENT_ID, SecretStr("guess"))
    try:
        with pytest.raises(TokenRefusedError) as refused:
            await wrong.token()
    finally:
        await wrong.close()

    assert refused.value.error == "invalid_client"
    assert refused.value.kind is ErrorKind.UNAVAILABLE
    assert "guess" not in str(refused.value.reason)


async def test_a_scope_the_client_may_not_have_is_refused(issuer: LocalIssuer) -> None:
    greedy = ClientCredentials(
        downstream_client(), issuer.issuer, CLIENT_ID, SecretStr(SECRET), "admin"
    )
    try:
        with pytest.raises(TokenRefusedError) as refused:
            await greedy.token()
    finally:
        await greedy.close()

    assert refused.value.error == "invalid_scope"


async def test_an_issuer_in_trouble_is_unavailable_not_a_refusal(
    tokens: ClientCredentials, issuer: LocalIssuer
) -> None:
    with issuer.unavailable(), pytest.raises(IssuerUnavailableError) as raised:
        await tokens.token()

    assert not isinstance(raised.value, TokenRefusedError)
    assert "503" in raised.value.reason


async def test_an_unreachable_issuer_is_unavailable() -> None:
    nobody = ClientCredentials(
        downstream_client(),
        f"http://127.0.0.1:{free_port()}",
        CLIENT_ID,
        SecretStr(SECRET),
    )
    try:
        with pytest.raises(IssuerUnavailableError) as raised:
            await nobody.token()
    finally:
        await nobody.close()

    assert "ConnectError" in raised.value.reason


async def test_bearer_auth_sends_the_token(tokens: ClientCredentials, endpoint: Endpoint) -> None:
    async with httpx2.AsyncClient(auth=BearerAuth(tokens), timeout=2.0) as client:
        response = await client.post(endpoint.url, content=b"one")
        await client.post(endpoint.url, content=b"two")

    assert response.status_code == HTTPStatus.OK
    token = await tokens.token()
    assert [authorization for authorization, _ in endpoint.seen] == [f"Bearer {token}"] * 2


async def test_bearer_auth_retries_once_with_a_new_token_after_a_401(
    tokens: ClientCredentials, issuer: LocalIssuer, endpoint: Endpoint
) -> None:
    endpoint.revoked.add(await tokens.token())
    async with httpx2.AsyncClient(auth=BearerAuth(tokens), timeout=2.0) as client:
        response = await client.post(endpoint.url, json={"n": 1})

    assert response.status_code == HTTPStatus.OK
    assert issuer.requests["token"] == 2
    (first, body), (second, retried_body) = endpoint.seen
    assert first != second
    assert json.loads(body) == json.loads(retried_body) == {"n": 1}


async def test_bearer_auth_gives_up_after_one_retry(
    tokens: ClientCredentials, issuer: LocalIssuer, endpoint: Endpoint
) -> None:
    endpoint.refuse_all = True
    async with httpx2.AsyncClient(auth=BearerAuth(tokens), timeout=2.0) as client:
        response = await client.post(endpoint.url, content=b"x")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert len(endpoint.seen) == 2
    assert issuer.requests["token"] == 2


async def test_a_downstream_client_authenticates_as_this_service(
    tokens: ClientCredentials, issuer: LocalIssuer, endpoint: Endpoint
) -> None:
    endpoint.revoked.add(await tokens.token())
    client = DownstreamClient.for_downstream(
        "fulfilment", FAST, MemoryBreakerStore(), auth=BearerAuth(tokens)
    )
    try:
        response = await client.post(endpoint.url, json={"n": 1}, idempotency_key="k-1")
    finally:
        await client.aclose()

    assert response.status_code == HTTPStatus.OK
    assert issuer.requests["token"] == 2  # the revoked token, then a fresh one
    (first, _), (second, _) = endpoint.seen
    assert first != second
    assert second == f"Bearer {await tokens.token()}"
