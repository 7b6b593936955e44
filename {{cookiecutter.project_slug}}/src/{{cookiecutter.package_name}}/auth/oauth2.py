"""OAuth 2.0 resource server: JWT access tokens (RFC 9068) from an external issuer.

The service never sees a client secret: it checks the issuer's signature with
a key from the issuer's JWKS (chosen by the token's ``kid``), then the claims
RFC 9068 requires. The issuer is contacted on the first token, not at start-up,
so the service starts while the issuer is down.
"""

from typing import Self

from {{ cookiecutter.package_name }}.auth.credentials import CredentialScheme
from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.jwks import JwksCache
from {{ cookiecutter.package_name }}.auth.principal import Principal
from {{ cookiecutter.package_name }}.auth.tokens import TokenRules, principal_from_claims, unverified_header, verify
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
# RFC 9068, section 2.2: every access token names these.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
# The downstream's name in metrics, logs and the circuit store.
ISSUER = "oauth2-issuer"


def token_rules(settings: Settings, issuer: str) -> TokenRules:
    """What an access token must satisfy, from ``settings``."""
    return TokenRules(
        algorithms=tuple(settings.oauth2_algorithms),
        issuer=issuer,
        audience=settings.oauth2_audience,
        leeway_seconds=settings.oauth2_leeway_seconds,
        required_claims=REQUIRED_CLAIMS,
        token_type=ACCESS_TOKEN_TYPE,
    )


def issuer_client(settings: Settings, breakers: BreakerStore) -> DownstreamClient:
    """The issuer as a downstream: ``OAUTH2_HTTP__*`` bound its calls, and its circuit."""
    return DownstreamClient.for_downstream(ISSUER, settings.oauth2_http, breakers)


def required_issuer(settings: Settings) -> str:
    """The configured issuer, exactly as written (its ``iss`` claim is compared as a string)."""
    if settings.oauth2_issuer is None:
        message = (
            "OAUTH2_ISSUER: required to serve; name the OAuth 2.0 issuer whose access tokens"
            " this service accepts (its discovery document lives under that URL)"
        )
        raise ConfigurationError(message)
    return settings.oauth2_issuer


class OAuth2Authenticator:
    """Verifies bearer access tokens with the issuer's published keys."""

    def __init__(self, keys: JwksCache, rules: TokenRules, http: DownstreamClient) -> None:
        self._keys = keys
        self._rules = rules
        self._http = http

    @classmethod
    def from_settings(cls, settings: Settings, breakers: BreakerStore) -> Self:
        """An authenticator for ``OAUTH2_ISSUER``; fails at once when it is not set."""
        issuer = required_issuer(settings)
        http = issuer_client(settings, breakers)
        keys = JwksCache(
            http,
            issuer,
            ttl_seconds=settings.oauth2_jwks_cache_seconds,
            refresh_interval_seconds=settings.oauth2_jwks_refresh_interval_seconds,
        )
        return cls(keys, token_rules(settings, issuer), http)

    @property
    def scheme(self) -> CredentialScheme:
        """Bearer tokens."""
        return CredentialScheme.BEARER

    async def authenticate(self, secret: str) -> Principal:
        """The caller the token names, with the permissions its scopes grant."""
        header = unverified_header(secret)
        algorithm, kid = header.get("alg"), header.get("kid")
        # Checked before any key lookup, so a bad header never costs the issuer a request.
        if algorithm not in self._rules.algorithms:
            raise InvalidCredentialsError(f"algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidCredentialsError("the token names no key id")
        key = await self._keys.key(kid)
        claims = verify(secret, key.for_algorithm(algorithm), self._rules)
        return principal_from_claims(claims)

    async def close(self) -> None:
        """Close the connections to the issuer."""
        await self._http.aclose()
