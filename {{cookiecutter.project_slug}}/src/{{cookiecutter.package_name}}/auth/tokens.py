"""JWT access tokens: verified by the rules of RFC 8725, read into a principal.

The accepted algorithms come from settings and only from there: a token's own
``alg`` header chooses nothing, so ``none`` and HS/RS key confusion fail like
any other bad signature.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal

type VerificationKey = jwt.PyJWK | str | bytes | Any


@dataclass(frozen=True, slots=True)
class TokenRules:
    """What a token must satisfy besides its signature."""

    algorithms: tuple[str, ...]
    issuer: str
    audience: str
    leeway_seconds: int
    required_claims: tuple[str, ...] = ("exp", "iss", "aud", "sub")
    # RFC 9068 access tokens say so in their header ("at+jwt"); None accepts any type.
    token_type: str | None = None


def unverified_header(token: str) -> dict[str, Any]:
    """The token's header, to find its key id; nothing in it is trusted yet."""
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidCredentialsError(f"malformed token: {error}") from None


def verify(token: str, key: VerificationKey, rules: TokenRules) -> dict[str, Any]:
    """The token's claims once signature, algorithm, type, issuer, audience and times all hold."""
    header = unverified_header(token)
    if header.get("alg") not in rules.algorithms:
        raise InvalidCredentialsError(f"algorithm {header.get('alg')!r} is not accepted")
    if rules.token_type is not None and _media_type(header.get("typ")) != rules.token_type:
        raise InvalidCredentialsError(f"token type {header.get('typ')!r} is not {rules.token_type}")
    try:
        return jwt.decode(
            token,
            key,
            algorithms=list(rules.algorithms),
            issuer=rules.issuer,
            audience=rules.audience,
            leeway=rules.leeway_seconds,
            options={"require": list(rules.required_claims)},
        )
    except jwt.PyJWTError as error:
        raise InvalidCredentialsError(f"{type(error).__name__}: {error}") from None


def _media_type(typ: object) -> str | None:
    """``application/at+jwt`` and ``at+jwt`` are the same type (RFC 7515, section 4.1.9)."""
    if not isinstance(typ, str):
        return None
    return typ.lower().removeprefix("application/")


def scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: ``scope`` space-separated (RFC 8693), or ``scp`` as a list."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [item for item in scp if isinstance(item, str)]
    return []


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller a verified token names, with the permissions its scopes grant."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidCredentialsError("the token names no subject")
    return Principal(subject, Permission.granted_by(scopes(claims)))
