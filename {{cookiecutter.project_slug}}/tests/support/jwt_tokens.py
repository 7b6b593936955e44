"""JWTs as an honest issuer and as an attacker make them, for the tests of auth=jwt."""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from {{ cookiecutter.package_name }}.settings import Settings

type Token = Callable[[Settings], str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    """Valid claims for ``settings``; a change to ``None`` leaves that claim out."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "jti": "token-1",
        "scope": "orders:read",
    } | changes
    return {
        name: int(value.timestamp()) if isinstance(value, datetime) else value
        for name, value in values.items()
        if value is not None
    }


def signed(settings: Settings, **changes: Any) -> str:
    """A token signed with the service's own secret, with ``changes`` to the valid claims."""
    secret = settings.jwt_secret
    assert secret is not None
    return jwt.encode(claims(settings, **changes), secret.get_secret_value(), algorithm="HS256")


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT refuses to use a PEM key as an HMAC secret, an attacker does not."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(settings: Settings, algorithm: str = "none") -> str:
    """``alg: none``: a token with an empty signature."""
    return f"{segment({'alg': algorithm, 'typ': 'JWT'})}.{segment(claims(settings))}."


def with_payload(token: str, **changes: Any) -> str:
    """``token`` with claims changed but the original signature kept."""
    header, payload, signature = token.split(".")
    tampered = json.loads(unb64(payload)) | changes
    return f"{header}.{segment(tampered)}.{signature}"


def with_flipped_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[0] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def rsa_signed(settings: Settings) -> str:
    """A well-formed RS256 token from a key the service has never seen."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(settings), key, algorithm="RS256")


# Each refused the same way on the wire: the caller learns only that the token is not valid.
INVALID_TOKENS: dict[str, Token] = {
    "unsigned": unsigned,
    "rs256-when-hs256-pinned": rsa_signed,
    "expired": lambda s: signed(s, exp=datetime.now(UTC) - timedelta(minutes=5)),
    "not-yet-valid": lambda s: signed(s, nbf=datetime.now(UTC) + timedelta(minutes=5)),
    "wrong-audience": lambda s: signed(s, aud="another-service"),
    "wrong-issuer": lambda s: signed(s, iss="someone-else"),
    "tampered-payload": lambda s: with_payload(signed(s), scope="orders:read orders:write"),
    "tampered-signature": lambda s: with_flipped_signature(signed(s)),
    "no-exp": lambda s: signed(s, exp=None),
    "no-sub": lambda s: signed(s, sub=None),
    "garbage": lambda _: "garbage",
}
