"""The issuer's signing keys, found by discovery and cached by key id.

Keys are fetched on first use, kept for ``OAUTH2_JWKS_CACHE_SECONDS`` and read
again when a token names a key id the cache does not hold (the issuer rotated
its keys). Refreshes are single-flight (concurrent callers share one fetch) and
spaced by ``OAUTH2_JWKS_REFRESH_INTERVAL_SECONDS``, so a flood of tokens with
made-up key ids costs the issuer one request per interval. While the issuer
cannot be reached, the keys already fetched keep serving (stale-if-error).
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import jwt
import structlog

from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.resilience.errors import DownstreamUnavailableError
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient

log = structlog.get_logger(__name__)

OPENID_CONFIGURATION = "/.well-known/openid-configuration"
AUTHORIZATION_SERVER_METADATA = "/.well-known/oauth-authorization-server"
# Symmetric keys have no place in a published key set: they would let anyone sign.
_SYMMETRIC_KEY_TYPE = "oct"


class IssuerUnavailableError(ServiceUnavailableError):
    """The issuer could not be reached or answered nonsense; retry later (a 503, not a 401)."""

    def __init__(self, reason: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__("token issuer", retry_after_seconds=retry_after_seconds)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    """What discovery tells about the issuer (RFC 8414 / OpenID Connect Discovery)."""

    issuer: str
    jwks_uri: str
    token_endpoint: str | None


def discovery_urls(issuer: str) -> tuple[str, str]:
    """OpenID Connect's (appended to the issuer) then RFC 8414's (inserted before its path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    openid = urlunsplit((parts.scheme, parts.netloc, f"{path}{OPENID_CONFIGURATION}", "", ""))
    rfc8414 = urlunsplit(
        (parts.scheme, parts.netloc, f"{AUTHORIZATION_SERVER_METADATA}{path}", "", "")
    )
    return openid, rfc8414


async def _get_json(http: DownstreamClient, url: str) -> dict[str, Any] | None:
    """The JSON object at ``url``; ``None`` on 404 (try elsewhere); unavailable otherwise."""
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except DownstreamUnavailableError as error:
        raise IssuerUnavailableError(
            f"GET {url}: {error.reason}", retry_after_seconds=error.retry_after_seconds
        ) from None
    if response.status_code == httpx2.codes.NOT_FOUND:
        return None
    if response.status_code != httpx2.codes.OK:
        raise IssuerUnavailableError(f"GET {url}: HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        raise IssuerUnavailableError(f"GET {url}: not JSON") from None
    if not isinstance(document, dict):
        raise IssuerUnavailableError(f"GET {url}: not a JSON object")
    return document


async def discover(http: DownstreamClient, issuer: str) -> IssuerMetadata:
    """The issuer's metadata, checked to be its own (RFC 8414, section 3.3)."""
    for url in discovery_urls(issuer):
        document = await _get_json(http, url)
        if document is None:
            continue
        if document.get("issuer") != issuer:
            # Another issuer's document would make us trust its keys.
            raise IssuerUnavailableError(
                f"{url} names issuer {document.get('issuer')!r}, not {issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise IssuerUnavailableError(f"{url} names no jwks_uri")
        token_endpoint = document.get("token_endpoint")
        return IssuerMetadata(
            issuer, jwks_uri, token_endpoint if isinstance(token_endpoint, str) else None
        )
    raise IssuerUnavailableError(f"no discovery document for {issuer}")


@dataclass(slots=True)
class SigningKey:
    """One published verification key; ``algorithm`` is the ``alg`` the JWK declares, if any."""

    kid: str
    jwk: Mapping[str, Any]
    algorithm: str | None
    _parsed: dict[str, jwt.PyJWK] = field(default_factory=dict)

    def for_algorithm(self, algorithm: str) -> jwt.PyJWK:
        """The key bound to ``algorithm``; refused when the JWK declares another one."""
        if self.algorithm is not None and self.algorithm != algorithm:
            raise InvalidCredentialsError(
                f"key {self.kid!r} is for {self.algorithm}, the token says {algorithm}"
            )
        if algorithm not in self._parsed:
            try:
                self._parsed[algorithm] = jwt.PyJWK(dict(self.jwk), algorithm)
            except jwt.PyJWTError as error:
                raise InvalidCredentialsError(
                    f"key {self.kid!r} cannot verify {algorithm}: {error}"
                ) from None
        return self._parsed[algorithm]


def parse_key_set(document: Mapping[str, Any]) -> dict[str, SigningKey]:
    """The usable signature keys of a JWK Set, by ``kid``; other members are skipped."""
    members = document.get("keys")
    if not isinstance(members, list):
        raise IssuerUnavailableError("the JWK Set has no keys list")
    keys: dict[str, SigningKey] = {}
    for member in members:
        if not isinstance(member, dict):
            continue
        kid, use, algorithm = member.get("kid"), member.get("use", "sig"), member.get("alg")
        if not isinstance(kid, str) or use != "sig" or member.get("kty") == _SYMMETRIC_KEY_TYPE:
            continue
        try:
            jwt.PyJWK(member)  # rejects unknown key types and malformed keys now, not per token
        except jwt.PyJWTError as error:
            log.warning("jwks_key_skipped", kid=kid, error=str(error))
            continue
        keys[kid] = SigningKey(kid, member, algorithm if isinstance(algorithm, str) else None)
    return keys


class JwksCache:
    """The issuer's signature keys by ``kid``, refreshed on expiry or on an unknown ``kid``."""

    def __init__(
        self,
        http: DownstreamClient,
        issuer: str,
        *,
        ttl_seconds: float,
        refresh_interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._issuer = issuer
        self._ttl = ttl_seconds
        self._interval = refresh_interval_seconds
        self._clock = clock
        self._metadata: IssuerMetadata | None = None
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._attempts = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> SigningKey:
        """The key ``kid`` names; refused if the issuer does not publish it (after a refresh)."""
        if self._expired():
            await self._refresh_if_due()
        if (known := self._keys.get(kid)) is not None:
            return known
        if not await self._refresh_if_due():
            raise InvalidCredentialsError(f"unknown key id {kid!r} (refreshed too recently)")
        if (known := self._keys.get(kid)) is not None:
            return known
        raise InvalidCredentialsError(f"unknown key id {kid!r}")

    def _expired(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl

    def _may_refresh(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._interval

    async def _refresh_if_due(self) -> bool:
        """Fetch the key set unless a fetch ran within the interval; whether one ran.

        Callers that arrive while a fetch is running wait for it and share its result.
        """
        attempts = self._attempts
        async with self._lock:
            if self._attempts != attempts:
                return True
            if not self._may_refresh():
                self._require_keys()
                return False
            self._attempted_at = self._clock()
            self._attempts += 1
            try:
                self._keys = await self._fetch()
                self._fetched_at = self._clock()
            except IssuerUnavailableError as error:
                log.warning("jwks_refresh_failed", reason=error.reason, cached_keys=len(self._keys))
                self._metadata = None  # discover again next time: the issuer may have moved
                if self._fetched_at is None:
                    raise
            return True

    def _require_keys(self) -> None:
        """With no key at all, the issuer is what is unavailable, not the token that is bad."""
        if self._fetched_at is None:
            raise IssuerUnavailableError("no signing keys fetched yet")

    async def _fetch(self) -> dict[str, SigningKey]:
        if self._metadata is None:
            self._metadata = await discover(self._http, self._issuer)
        document = await _get_json(self._http, self._metadata.jwks_uri)
        if document is None:
            raise IssuerUnavailableError(f"GET {self._metadata.jwks_uri}: HTTP 404")
        keys = parse_key_set(document)
        log.info("jwks_refreshed", kids=sorted(keys))
        return keys
