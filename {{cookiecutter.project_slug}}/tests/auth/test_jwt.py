"""JWT bearer tokens: the attacks the authenticator refuses, its configuration, issue-token.

How each API answers the same tokens is tested beside the API (``tests/api``).
"""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.auth.errors import MAX_REASON_LENGTH, InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.jwt import JwtAuthenticator, issue_token
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings
from tests.support.commands import CommandResult, run_command
from tests.support.jwt_tokens import (
    claims,
    hmac_signed,
    rsa_signed,
    signed,
    unsigned,
    with_flipped_signature,
    with_payload,
)
from tests.support.processes import start_serving

READ = frozenset({Permission.ORDERS_READ})
TOO_SHORT = "too-short"


def public_pem(key: PrivateKeyTypes) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def asymmetric(settings: Settings, algorithm: str, key: PrivateKeyTypes) -> Settings:
    """``settings`` pinned to ``algorithm``, verifying with the public half of ``key``."""
    return settings.model_copy(
        update={
            "jwt_algorithm": algorithm,
            "jwt_public_key": public_pem(key),
            "jwt_private_key": SecretStr(private_pem(key)),
        }
    )


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def authenticator(token_settings: Settings) -> JwtAuthenticator:
    return JwtAuthenticator.from_settings(token_settings)


async def refused(authenticator: JwtAuthenticator, token: str) -> str:
    """The reason ``token`` is refused for (it must be)."""
    with pytest.raises(InvalidCredentialsError) as caught:
        await authenticator.authenticate(token)
    return caught.value.reason


# --- the authenticator ---------------------------------------------------------------------------


async def test_a_valid_token_admits_its_subject_with_the_permissions_of_its_scopes(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    token = issue_token(token_settings, "alice", [Permission.ORDERS_READ, Permission.ORDERS_WRITE])

    principal = await authenticator.authenticate(token)

    assert principal.subject == "alice"
    assert principal.permissions == {Permission.ORDERS_READ, Permission.ORDERS_WRITE}
    assert principal.authenticated


async def test_scopes_the_service_does_not_know_grant_nothing(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    token = signed(token_settings, scope="orders:read admin orders:delete")

    assert (await authenticator.authenticate(token)).permissions == READ


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE"])
async def test_an_unsigned_token_is_refused(
    authenticator: JwtAuthenticator, token_settings: Settings, algorithm: str
) -> None:
    assert "not accepted" in await refused(authenticator, unsigned(token_settings, algorithm))


@pytest.mark.parametrize("claimed", ["HS256", "RS256"])
async def test_the_public_key_used_as_an_hmac_secret_is_refused(
    token_settings: Settings, rsa_key: rsa.RSAPrivateKey, claimed: str
) -> None:
    rs256 = asymmetric(token_settings, "RS256", rsa_key)
    authenticator = JwtAuthenticator.from_settings(rs256)
    pem = public_pem(rsa_key).encode()
    token = hmac_signed({"alg": claimed, "typ": "JWT"}, claims(rs256, scope="orders:write"), pem)

    await refused(authenticator, token)
    # The service pinned to RS256 admits what the matching private key signs, and only that.
    assert await authenticator.authenticate(issue_token(rs256, "alice", [Permission.ORDERS_READ]))


async def test_an_rs256_token_is_refused_when_hs256_is_pinned(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    assert "'RS256' is not accepted" in await refused(authenticator, rsa_signed(token_settings))


async def test_a_token_signed_with_another_secret_is_refused(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    other = token_settings.model_copy(update={"jwt_secret": SecretStr("x" * 48)})

    assert "Signature" in await refused(authenticator, signed(other))


@pytest.mark.parametrize(
    ("claim", "direction", "error"),
    [
        ("exp", -1, "ExpiredSignatureError"),
        ("nbf", 1, "ImmatureSignatureError"),
        ("iat", 1, "ImmatureSignatureError"),
    ],
    ids=["expired", "not-yet-valid", "issued-in-the-future"],
)
async def test_tokens_outside_their_lifetime_beyond_the_leeway_are_refused(
    authenticator: JwtAuthenticator,
    token_settings: Settings,
    claim: str,
    direction: int,
    error: str,
) -> None:
    beyond = timedelta(seconds=direction * (token_settings.jwt_leeway_seconds + 5))
    token = signed(token_settings, **{claim: datetime.now(UTC) + beyond})

    assert error in await refused(authenticator, token)


@pytest.mark.parametrize("claim", ["exp", "nbf"])
async def test_clock_skew_within_the_leeway_is_forgiven(
    authenticator: JwtAuthenticator, token_settings: Settings, claim: str
) -> None:
    skew = token_settings.jwt_leeway_seconds // 2
    offset = timedelta(seconds=-skew if claim == "exp" else skew)
    token = signed(token_settings, **{claim: datetime.now(UTC) + offset})

    assert (await authenticator.authenticate(token)).subject == "alice"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"aud": "another-service"}, "InvalidAudienceError"),
        ({"aud": ["another-service"]}, "InvalidAudienceError"),
        ({"iss": "someone-else"}, "InvalidIssuerError"),
    ],
)
async def test_tokens_for_another_audience_or_from_another_issuer_are_refused(
    authenticator: JwtAuthenticator, token_settings: Settings, changes: dict[str, Any], error: str
) -> None:
    assert error in await refused(authenticator, signed(token_settings, **changes))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
async def test_tokens_missing_a_required_claim_are_refused(
    authenticator: JwtAuthenticator, token_settings: Settings, claim: str
) -> None:
    assert "MissingRequiredClaimError" in await refused(
        authenticator, signed(token_settings, **{claim: None})
    )


async def test_an_empty_subject_is_refused(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    assert "subject" in await refused(authenticator, signed(token_settings, sub=""))


async def test_a_tampered_payload_is_refused(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    token = with_payload(signed(token_settings), scope="orders:read orders:write", sub="root")

    assert "Signature verification failed" in await refused(authenticator, token)


async def test_a_tampered_signature_is_refused(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    token = with_flipped_signature(signed(token_settings))

    assert "Signature verification failed" in await refused(authenticator, token)


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "..", "e30.e30.", "Bearer", "x" * 5000, "\u00e9.\u00e9.\u00e9"]
)
async def test_garbage_is_refused(authenticator: JwtAuthenticator, garbage: str) -> None:
    await refused(authenticator, garbage)


@pytest.mark.parametrize("hostile", [{"alg": "A" * 16_384}, {"crit": ["A" * 16_384]}])
async def test_a_huge_header_field_is_refused_and_quoted_only_in_part(
    authenticator: JwtAuthenticator, hostile: dict[str, Any]
) -> None:
    parts = [{"alg": "HS256", "typ": "JWT"} | hostile, {"sub": "mallory"}]
    encoded = [base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=") for part in parts]
    token = b".".join([*encoded, b"c2lnbmF0dXJl"]).decode()

    reason = await refused(authenticator, token)

    assert len(reason) <= MAX_REASON_LENGTH + len("... (16412 characters)")


# --- configuration ------------------------------------------------------------------------------


def generated(kind: str) -> PrivateKeyTypes:
    match kind:
        case "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        case "rsa-1024":
            # The weak key the service must refuse.
            return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
        case "p256":
            return ec.generate_private_key(ec.SECP256R1())
        case "p384":
            return ec.generate_private_key(ec.SECP384R1())
        case "ed25519":
            return ed25519.Ed25519PrivateKey.generate()
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("algorithm", "kind"),
    [
        ("RS256", "rsa"),
        ("PS384", "rsa"),
        ("ES256", "p256"),
        ("ES384", "p384"),
        ("EdDSA", "ed25519"),
    ],
)
async def test_asymmetric_algorithms_verify_what_their_private_key_signs(
    token_settings: Settings, algorithm: str, kind: str
) -> None:
    settings = asymmetric(token_settings, algorithm, generated(kind))
    token = issue_token(settings, "alice", [Permission.ORDERS_WRITE])

    principal = await JwtAuthenticator.from_settings(settings).authenticate(token)

    assert principal.permissions == {Permission.ORDERS_WRITE}
    assert jwt.get_unverified_header(token)["alg"] == algorithm


async def test_a_public_key_with_escaped_newlines_is_read(
    token_settings: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    settings = asymmetric(token_settings, "RS256", rsa_key)
    escaped = settings.model_copy(
        update={"jwt_public_key": public_pem(rsa_key).replace("\n", "\\n")}
    )

    token = issue_token(settings, "alice", [Permission.ORDERS_READ])

    assert await JwtAuthenticator.from_settings(escaped).authenticate(token)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwt_secret": None}, "JWT_SECRET is required for HS256"),
        ({"jwt_secret": SecretStr("s" * 31)}, "JWT_SECRET must be at least 32 bytes for HS256"),
        (
            {"jwt_algorithm": "HS512", "jwt_secret": SecretStr("s" * 48)},
            "JWT_SECRET must be at least 64 bytes for HS512",
        ),
        ({"jwt_algorithm": "RS256"}, r"JWT_PUBLIC_KEY .* is required for RS256"),
        (
            {"jwt_algorithm": "RS256", "jwt_public_key": "not a key"},
            "JWT_PUBLIC_KEY is not a PEM public key",
        ),
    ],
    ids=["no-secret", "short-secret", "short-for-hs512", "no-public-key", "unparsable-pem"],
)
def test_unusable_configuration_stops_the_start(
    token_settings: Settings, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        JwtAuthenticator.from_settings(token_settings.model_copy(update=changes))


@pytest.mark.parametrize(
    ("algorithm", "kind", "message"),
    [
        ("RS256", "p256", "RS256 needs an RSA key"),
        ("PS256", "ed25519", "PS256 needs an RSA key"),
        ("RS256", "rsa-1024", "at least 2048 bits, not 1024"),
        ("ES256", "p384", "ES256 needs an EC key on the secp256r1 curve"),
        ("ES384", "rsa", "ES384 needs an EC key on the secp384r1 curve"),
        ("EdDSA", "p256", "EdDSA needs an Ed25519 or Ed448 key"),
    ],
)
def test_a_public_key_of_the_wrong_kind_stops_the_start(
    token_settings: Settings, algorithm: str, kind: str, message: str
) -> None:
    settings = asymmetric(token_settings, algorithm, generated(kind))

    with pytest.raises(ConfigurationError, match=rf"JWT_PUBLIC_KEY does not fit .*{message}"):
        JwtAuthenticator.from_settings(settings)


def test_a_private_key_in_place_of_the_public_key_stops_the_start(
    token_settings: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    settings = asymmetric(token_settings, "RS256", rsa_key)
    leaked = settings.model_copy(update={"jwt_public_key": private_pem(rsa_key)})

    with pytest.raises(ConfigurationError, match="JWT_PUBLIC_KEY is not a PEM public key"):
        JwtAuthenticator.from_settings(leaked)


def test_signing_with_an_asymmetric_algorithm_needs_the_private_key(
    token_settings: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    settings = asymmetric(token_settings, "RS256", rsa_key)
    without = settings.model_copy(update={"jwt_private_key": None})
    mismatched = settings.model_copy(
        update={"jwt_private_key": SecretStr(private_pem(generated("p256")))}
    )

    with pytest.raises(ConfigurationError, match=r"JWT_PRIVATE_KEY .* is required"):
        issue_token(without, "alice", [Permission.ORDERS_READ])
    with pytest.raises(ConfigurationError, match="JWT_PRIVATE_KEY does not fit"):
        issue_token(mismatched, "alice", [Permission.ORDERS_READ])


def test_the_service_refuses_to_start_with_a_short_secret(settings: Settings) -> None:
    process = start_serving(settings, JWT_SECRET=TOO_SHORT)
    output, _ = process.communicate(timeout=60)

    assert process.returncode != 0
    assert b"JWT_SECRET must be at least 32 bytes" in output


# --- issued tokens and the issue-token command ------------------------------------------------


async def test_issued_tokens_carry_every_claim(token_settings: Settings) -> None:
    token = issue_token(
        token_settings,
        "alice",
        [Permission.ORDERS_WRITE, Permission.ORDERS_READ, Permission.ORDERS_WRITE],
        timedelta(minutes=2),
    )

    issued = jwt.decode(token, options={"verify_signature": False})
    assert set(issued) == {"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "scope"}
    assert issued["scope"] == "orders:write orders:read"
    assert issued["exp"] - issued["iat"] == 120
    assert issued["nbf"] == issued["iat"]
    assert issue_token(token_settings, "alice", []) != issue_token(token_settings, "alice", [])


def issue_command(settings: Settings, *arguments: str, **environment: str) -> CommandResult:
    return run_command(settings, "issue-token", *arguments, **environment)


async def test_the_issue_token_command_prints_a_token_the_service_accepts(
    authenticator: JwtAuthenticator, token_settings: Settings
) -> None:
    result = issue_command(
        token_settings,
        "--subject", "batch-job",
        "--scope", "orders:read",
        "--scope", "orders:write",
        "--scope", "webhooks:manage",
        "--ttl-seconds", "120",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == f"{token}\n"
    principal = await authenticator.authenticate(token)
    assert (principal.subject, principal.permissions) == ("batch-job", frozenset(Permission))
    issued = jwt.decode(token, options={"verify_signature": False})
    assert issued["exp"] - issued["iat"] == 120
    assert "token_issued" in result.stderr
    assert token not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--subject", "s", "--scope", "orders:delete"], "invalid choice: 'orders:delete'"),
        (["--subject", "s"], "the following arguments are required: --scope"),
        (["--subject", " ", "--scope", "orders:read"], "--subject: must not be blank"),
        (["--subject", "s", "--scope", "orders:read", "--ttl-seconds", "0"], "between 1 and"),
    ],
)
def test_the_issue_token_command_rejects_bad_arguments(
    token_settings: Settings, arguments: list[str], message: str
) -> None:
    result = issue_command(token_settings, *arguments)

    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_the_issue_token_command_names_an_unusable_setting(token_settings: Settings) -> None:
    result = issue_command(
        token_settings, "--subject", "s", "--scope", "orders:read", JWT_SECRET=TOO_SHORT
    )

    assert result.returncode == 2
    assert "invalid configuration: JWT_SECRET must be at least 32 bytes" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
