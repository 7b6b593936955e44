"""Bearer access tokens this service (or one sharing its key) signs: one pinned algorithm, one key.

HS256/384/512 verify with ``JWT_SECRET``; RS*, PS*, ES* and EdDSA with
``JWT_PUBLIC_KEY``, so servers never hold what signs tokens. The key is loaded
and checked against the algorithm once, at start-up: a short secret or a key of
the wrong kind stops the process instead of weakening every later check.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.auth.credentials import CredentialScheme
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal
from {{ cookiecutter.package_name }}.auth.tokens import TokenRules, principal_from_claims, verify
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings

# RFC 7518, section 3.2: an HMAC key at least as long as the hash output.
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# NIST SP 800-131A: shorter RSA keys are no longer acceptable for signatures.
RSA_KEY_BITS = 2048
EC_CURVES: dict[str, type[ec.EllipticCurve]] = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1}
SIGNING_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
HOW_TO_GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'

type VerifyingKey = bytes | PublicKeyTypes
type AsymmetricSigningKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
type SigningKey = bytes | AsymmetricSigningKey


def _is_hmac(algorithm: str) -> bool:
    return algorithm.startswith("HS")


def _pem(text: str) -> bytes:
    """PEM text as set in the environment, where newlines are often escaped."""
    return text.strip().replace("\\n", "\n").encode()


def _hmac_key(secret: SecretStr | None, algorithm: str) -> bytes:
    if secret is None:
        message = f"JWT_SECRET is required for {algorithm}; generate one with {HOW_TO_GENERATE}"
        raise ConfigurationError(message)
    key = secret.get_secret_value().encode()
    minimum = HMAC_KEY_BYTES[algorithm]
    if len(key) < minimum:
        message = (
            f"JWT_SECRET must be at least {minimum} bytes for {algorithm} (RFC 7518, section 3.2),"
            f" not {len(key)}; generate one with {HOW_TO_GENERATE}"
        )
        raise ConfigurationError(message)
    return key


def _rsa_mismatch(key: PublicKeyTypes, algorithm: str) -> str | None:
    if not isinstance(key, rsa.RSAPublicKey):
        return f"{algorithm} needs an RSA key"
    if key.key_size < RSA_KEY_BITS:
        return f"{algorithm} needs an RSA key of at least {RSA_KEY_BITS} bits, not {key.key_size}"
    return None


def _key_mismatch(key: PublicKeyTypes, algorithm: str) -> str | None:
    """Why ``key`` cannot verify ``algorithm`` signatures, or ``None`` when it can."""
    if algorithm[:2] in {"RS", "PS"}:
        return _rsa_mismatch(key, algorithm)
    if algorithm in EC_CURVES:
        curve = EC_CURVES[algorithm]
        fits = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, curve)
        return None if fits else f"{algorithm} needs an EC key on the {curve.name} curve"
    fits = isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return None if fits else f"{algorithm} needs an Ed25519 or Ed448 key"


def _public_key(pem: str | None, algorithm: str) -> PublicKeyTypes:
    if not pem:
        message = f"JWT_PUBLIC_KEY (a PEM public key) is required for {algorithm}"
        raise ConfigurationError(message)
    try:
        key = load_pem_public_key(_pem(pem))
    except (ValueError, UnsupportedAlgorithm):
        message = "JWT_PUBLIC_KEY is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
        raise ConfigurationError(message) from None
    if problem := _key_mismatch(key, algorithm):
        message = f"JWT_PUBLIC_KEY does not fit JWT_ALGORITHM: {problem}"
        raise ConfigurationError(message)
    return key


def _private_key(pem: SecretStr | None, algorithm: str) -> AsymmetricSigningKey:
    if pem is None:
        message = f"JWT_PRIVATE_KEY (a PEM private key) is required to sign {algorithm} tokens"
        raise ConfigurationError(message)
    try:
        key = load_pem_private_key(_pem(pem.get_secret_value()), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        message = "JWT_PRIVATE_KEY is not an unencrypted PEM private key"
        raise ConfigurationError(message) from None
    problem = _key_mismatch(key.public_key(), algorithm)
    if problem is not None or not isinstance(key, SIGNING_KEY_TYPES):
        message = f"JWT_PRIVATE_KEY does not fit JWT_ALGORITHM: {problem}"
        raise ConfigurationError(message)
    return key


def verifying_key(settings: Settings) -> VerifyingKey:
    """The key that checks signatures of ``settings.jwt_algorithm``, or why there is none."""
    algorithm = settings.jwt_algorithm
    if _is_hmac(algorithm):
        return _hmac_key(settings.jwt_secret, algorithm)
    return _public_key(settings.jwt_public_key, algorithm)


def signing_key(settings: Settings) -> SigningKey:
    """The key that signs tokens of ``settings.jwt_algorithm``, or why there is none."""
    algorithm = settings.jwt_algorithm
    if _is_hmac(algorithm):
        return _hmac_key(settings.jwt_secret, algorithm)
    return _private_key(settings.jwt_private_key, algorithm)


class JwtAuthenticator:
    """Admits callers whose bearer token verifies under the one key and algorithm configured."""

    def __init__(self, key: VerifyingKey, rules: TokenRules) -> None:
        self._key = key
        self._rules = rules

    @classmethod
    def from_settings(cls, settings: Settings) -> "JwtAuthenticator":
        """Load and check the key now; raise ``ConfigurationError`` if it cannot be used."""
        rules = TokenRules(
            algorithms=(settings.jwt_algorithm,),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
            required_claims=REQUIRED_CLAIMS,
        )
        return cls(verifying_key(settings), rules)

    @property
    def scheme(self) -> CredentialScheme:
        """Tokens come as ``Authorization: Bearer <token>``."""
        return CredentialScheme.BEARER

    async def authenticate(self, secret: str) -> Principal:
        """The token's subject, holding the permissions its scopes name."""
        return principal_from_claims(verify(secret, self._key, self._rules))

    async def close(self) -> None:
        """Nothing to release: the key lives in memory."""


def issue_token(
    settings: Settings,
    subject: str,
    scopes: Iterable[Permission],
    ttl: timedelta | None = None,
) -> str:
    """A signed access token for ``subject``, valid from now for ``ttl`` (default: the setting)."""
    lifetime = ttl if ttl is not None else timedelta(seconds=settings.jwt_token_ttl_seconds)
    if not subject or lifetime <= timedelta(0):
        message = "a token needs a subject and a positive lifetime"
        raise ValueError(message)
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": uuid4().hex,
        "scope": " ".join(dict.fromkeys(Permission(scope) for scope in scopes)),
    }
    return jwt.encode(claims, signing_key(settings), algorithm=settings.jwt_algorithm)
