"""Access tokens an attacker forges or a wrong issuer signs, for the tests of auth=oauth2."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.support.issuer import LocalIssuer, SigningKey

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
