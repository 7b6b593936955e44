"""Outbound calls as this service: OAuth 2.0 client credentials (RFC 6749, section 4.4).

``ClientCredentials`` gets an access token from the issuer's token endpoint
(found by discovery), authenticating with HTTP Basic (``client_secret_basic``),
and reuses it until shortly before it expires; concurrent callers share one
token request. ``BearerAuth`` puts the token on every request of an
``httpx2.AsyncClient`` and, when the other service answers 401 (it no longer
accepts the token: revoked, keys rotated), retries once with a fresh one.

Failures are ``IssuerUnavailableError`` (a ``ServiceError`` of kind
UNAVAILABLE, so an API call that needed the token answers 503):
``TokenRefusedError`` when the issuer refuses the client (wrong secret, unknown
scope), the base class when it cannot be reached or answers nonsense.
"""

import asyncio
import base64
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import quote_plus

import httpx2
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.auth.jwks import IssuerUnavailableError, discover
from {{ cookiecutter.package_name }}.auth.oauth2 import issuer_client, required_issuer
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.errors import DownstreamUnavailableError
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.settings import Settings

# Used when the issuer leaves expires_in out (RFC 6749 only recommends it).
DEFAULT_LIFETIME_SECONDS = 60.0


class TokenRefusedError(IssuerUnavailableError):
    """The issuer answered, and said no: fix the client's id, secret or scope."""

    def __init__(self, error: str) -> None:
        super().__init__(f"the issuer refused the token request: {error}")
        self.error = error


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token and the moment (on the monotonic clock) to stop using it."""

    value: str = field(repr=False)
    renew_at: float


def basic_credentials(client_id: str, client_secret: str) -> str:
    """``Authorization: Basic`` for a client: both parts form-encoded first (RFC 6749, 2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return f"Basic {base64.b64encode(pair.encode()).decode()}"


class ClientCredentials:
    """Access tokens for this service's own calls, cached until shortly before they expire."""

    def __init__(
        self,
        http: DownstreamClient,
        issuer: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str = "",
        *,
        renew_margin_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._issuer = issuer
        self._authorization = basic_credentials(client_id, client_secret.get_secret_value())
        self._scope = scope
        self._margin = renew_margin_seconds
        self._clock = clock
        self._token_endpoint: str | None = None
        self._cached: AccessToken | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, breakers: BreakerStore) -> Self:
        """The client ``OAUTH2_CLIENT_ID`` / ``OAUTH2_CLIENT_SECRET`` names at ``OAUTH2_ISSUER``."""
        if settings.oauth2_client_id is None or settings.oauth2_client_secret is None:
            message = "set OAUTH2_CLIENT_ID and OAUTH2_CLIENT_SECRET to call other services"
            raise ValueError(message)
        return cls(
            issuer_client(settings, breakers),
            required_issuer(settings),
            settings.oauth2_client_id,
            settings.oauth2_client_secret,
            settings.oauth2_client_scope,
        )

    async def token(self) -> str:
        """A token still valid for a while: the cached one, or a new one (one request at a time)."""
        if (cached := self._fresh()) is not None:
            return cached
        async with self._lock:
            if (cached := self._fresh()) is not None:
                return cached
            token = await self._request()
            self._cached = token
            return token.value

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (a server refused it), unless a newer one has replaced it."""
        if self._cached is not None and self._cached.value == token:
            self._cached = None

    def _fresh(self) -> str | None:
        cached = self._cached
        if cached is None or self._clock() >= cached.renew_at:
            return None
        return cached.value

    async def _request(self) -> AccessToken:
        if self._token_endpoint is None:
            metadata = await discover(self._http, self._issuer)
            if metadata.token_endpoint is None:
                raise IssuerUnavailableError("the issuer's metadata names no token_endpoint")
            self._token_endpoint = metadata.token_endpoint
        form = {"grant_type": "client_credentials"} | (
            {"scope": self._scope} if self._scope else {}
        )
        try:
            response = await self._http.post(
                self._token_endpoint,
                data=form,
                headers={"Authorization": self._authorization, "Accept": "application/json"},
            )
        except DownstreamUnavailableError as error:
            raise IssuerUnavailableError(
                f"token request: {error.reason}", retry_after_seconds=error.retry_after_seconds
            ) from None
        return self._read(response, requested_at=self._clock())

    def _read(self, response: httpx2.Response, requested_at: float) -> AccessToken:
        body = _json_object(response)
        if response.status_code in {httpx2.codes.BAD_REQUEST, httpx2.codes.UNAUTHORIZED}:
            raise TokenRefusedError(str(body.get("error", f"HTTP {response.status_code}")))
        if response.status_code != httpx2.codes.OK:
            raise IssuerUnavailableError(f"token request: HTTP {response.status_code}")
        value, token_type = body.get("access_token"), body.get("token_type")
        if not isinstance(value, str) or not isinstance(token_type, str):
            raise IssuerUnavailableError("the token response has no access_token or token_type")
        if token_type.lower() != "bearer":
            raise IssuerUnavailableError(f"the token is of type {token_type!r}, not Bearer")
        lifetime = body.get("expires_in", DEFAULT_LIFETIME_SECONDS)
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            raise IssuerUnavailableError(f"the token response has expires_in {lifetime!r}")
        # Renew a little early, so a token never expires on its way to the other service.
        return AccessToken(value, requested_at + lifetime - min(self._margin, lifetime / 10))

    async def close(self) -> None:
        """Close the connections to the issuer."""
        await self._http.aclose()


def _json_object(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class BearerAuth(httpx2.Auth):
    """Adds this service's access token to each request; retries once on a 401 with a new one."""

    def __init__(self, tokens: ClientCredentials) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Send with the cached token; on 401, forget it and send once more with a fresh one."""
        await request.aread()  # the body in memory, so that the retry can send it again
        token = await self._tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != httpx2.codes.UNAUTHORIZED:
            return
        self._tokens.invalidate(token)
        request.headers["Authorization"] = f"Bearer {await self._tokens.token()}"
        yield request

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        """Not supported: tokens are fetched with the async client."""
        del request
        message = "BearerAuth works with httpx2.AsyncClient only"
        raise RuntimeError(message)
