"""Access tokens from the issuer: accepted when right, refused when forged or wrong.

How each API answers the same tokens is tested beside the API (``tests/api``).
"""

from collections.abc import AsyncIterator

import jwt
import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.oauth2 import OAuth2Authenticator
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.issuer import LocalIssuer
from tests.support.oauth2_tokens import FORGERIES, Forgery
from tests.support.processes import free_port, start_serving


@pytest.fixture
async def authenticator(settings: Settings) -> AsyncIterator[OAuth2Authenticator]:
    authenticator = OAuth2Authenticator.from_settings(settings, MemoryBreakerStore())
    yield authenticator
    await authenticator.close()


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_tokens_signed_with_a_published_key_are_accepted(
    authenticator: OAuth2Authenticator, issuer: LocalIssuer, algorithm: str
) -> None:
    token = issuer.access_token("svc-a", "orders:read unknown:scope", key=issuer.key(algorithm))

    principal = await authenticator.authenticate(token)

    assert principal.subject == "svc-a"
    assert principal.permissions == {Permission.ORDERS_READ}


async def test_a_token_may_grant_every_permission_the_service_knows(
    authenticator: OAuth2Authenticator, issuer: LocalIssuer
) -> None:
    scopes = " ".join(permission.value for permission in Permission)
    token = issuer.access_token("svc-a", scopes, key=issuer.key("RS256"))

    principal = await authenticator.authenticate(token)

    assert principal.permissions == frozenset(Permission)
    assert Permission.WEBHOOKS_MANAGE in principal.permissions


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_the_authenticator_refuses_forged_and_wrong_tokens(
    authenticator: OAuth2Authenticator, issuer: LocalIssuer, forge: Forgery
) -> None:
    with pytest.raises(InvalidCredentialsError):
        await authenticator.authenticate(forge(issuer))


async def test_a_key_declared_for_one_algorithm_verifies_no_other(
    settings: Settings, issuer: LocalIssuer
) -> None:
    lenient = settings.model_copy(update={"oauth2_algorithms": ("RS256", "PS256")})
    authenticator = OAuth2Authenticator.from_settings(lenient, MemoryBreakerStore())
    key = issuer.key("RS256")  # its JWK says alg RS256
    token = jwt.encode(
        issuer.claims("caller", "orders:read"),
        key.private,
        algorithm="PS256",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )
    try:
        with pytest.raises(InvalidCredentialsError, match="is for RS256"):
            await authenticator.authenticate(token)
    finally:
        await authenticator.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OAUTH2_ISSUER", "ftp://login.example.com"),
        ("OAUTH2_ISSUER", "https://login.example.com/?tenant=a"),
        ("OAUTH2_ALGORITHMS", '["HS256"]'),
        ("OAUTH2_ALGORITHMS", '["none"]'),
        ("OAUTH2_ALGORITHMS", "[]"),
    ],
)
def test_settings_refuse_unusable_issuers_and_algorithms(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_serving_without_an_issuer_fails_at_start_naming_the_setting(
    database_settings: Settings,
) -> None:
    unconfigured = database_settings.model_copy(update={"oauth2_issuer": None})
    process = start_serving(unconfigured, HTTP_PORT=str(free_port()), GRPC_PORT=str(free_port()))
    output, _ = process.communicate(timeout=30)

    assert process.returncode == 2
    assert b"invalid configuration: OAUTH2_ISSUER" in output
