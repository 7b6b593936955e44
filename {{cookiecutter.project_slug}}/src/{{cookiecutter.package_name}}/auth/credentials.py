"""What a transport hands to the guard: the credentials as sent, not yet trusted."""

from dataclasses import dataclass, field
from enum import StrEnum

API_KEY_HEADER = "X-API-Key"


class CredentialScheme(StrEnum):
    """How a caller presents credentials (the ``WWW-Authenticate`` scheme on REST)."""

    BEARER = "Bearer"
    API_KEY = "ApiKey"
    UNSUPPORTED = "Unsupported"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A bearer token or an API key; kept out of ``repr`` so it never reaches a log."""

    scheme: CredentialScheme
    secret: str = field(repr=False)


def extract_credentials(authorization: str | None, api_key: str | None) -> Credentials | None:
    """Read ``Authorization: Bearer <token>`` or an API key header, the same way on every transport.

    Another ``Authorization`` scheme counts as credentials the service cannot
    accept (rather than as none), so the caller learns it sent the wrong kind.
    """
    if api_key:
        return Credentials(CredentialScheme.API_KEY, api_key.strip())
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return Credentials(CredentialScheme.BEARER, token.strip())
    return Credentials(CredentialScheme.UNSUPPORTED, "")
