"""The guard's order of decisions, with an authenticator written for the test.

The real authenticators are tested against real tokens and keys in
``tests/auth``; this checks only the guard's own logic.
"""

import io
import json
from dataclasses import dataclass, field

import pytest

from {{ cookiecutter.package_name }}.auth.credentials import (
    API_KEY_HEADER,
    Credentials,
    CredentialScheme,
    extract_credentials,
)
from {{ cookiecutter.package_name }}.auth.errors import (
    MAX_REASON_LENGTH,
    InvalidCredentialsError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
)
from {{ cookiecutter.package_name }}.auth.guard import Guard
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal
from {{ cookiecutter.package_name }}.auth.rate_limits import RateLimiter
from {{ cookiecutter.package_name }}.settings import Settings

SECRET = "s3cr3t-value"  # noqa: S105 - the one secret this authenticator accepts


@dataclass
class KnownSecret:
    """Accepts ``SECRET`` as a reader; records every secret it was shown."""

    scheme: CredentialScheme = CredentialScheme.BEARER
    shown: list[str] = field(default_factory=list)

    async def authenticate(self, secret: str) -> Principal:
        self.shown.append(secret)
        if secret != SECRET:
            raise InvalidCredentialsError("unknown secret")
        return Principal("reader", frozenset({Permission.ORDERS_READ}))

    async def close(self) -> None:
        return None


def guard(
    authenticator: KnownSecret | None, per_caller: str = "5/minute", per_ip: str = "5/minute"
) -> Guard:
    settings = Settings(rate_limit_per_caller=per_caller, rate_limit_per_ip=per_ip)
    return Guard(authenticator, RateLimiter.from_settings(settings))


@pytest.mark.parametrize(
    ("authorization", "api_key", "expected"),
    [
        (None, None, None),
        ("Bearer abc", None, Credentials(CredentialScheme.BEARER, "abc")),
        ("bearer  abc ", None, Credentials(CredentialScheme.BEARER, "abc")),
        ("Basic dXNlcg==", None, Credentials(CredentialScheme.UNSUPPORTED, "")),
        ("Bearer", None, Credentials(CredentialScheme.UNSUPPORTED, "")),
        ("Bearer abc", "key", Credentials(CredentialScheme.API_KEY, "key")),
    ],
)
def test_credentials_are_read_the_same_way_by_every_transport(
    authorization: str | None, api_key: str | None, expected: Credentials | None
) -> None:
    assert extract_credentials(authorization, api_key) == expected


def test_credentials_keep_their_secret_out_of_repr() -> None:
    assert SECRET not in repr(Credentials(CredentialScheme.BEARER, SECRET))
    assert API_KEY_HEADER == "X-API-Key"


async def test_valid_credentials_are_admitted_with_the_callers_quota() -> None:
    admission = await guard(KnownSecret()).admit(
        Credentials(CredentialScheme.BEARER, SECRET), Permission.ORDERS_READ, "10.0.0.1"
    )

    assert admission.principal.subject == "reader"
    assert admission.quota is not None
    assert (admission.quota.policy, admission.quota.remaining) == ("per-caller", 4)


async def test_missing_credentials_are_unauthenticated_without_asking_the_authenticator() -> None:
    authenticator = KnownSecret()
    with pytest.raises(UnauthenticatedError) as refused:
        await guard(authenticator).admit(None, Permission.ORDERS_READ, "10.0.0.1")

    assert not refused.value.invalid
    assert authenticator.shown == []


async def test_credentials_of_another_scheme_never_reach_the_authenticator() -> None:
    authenticator = KnownSecret()
    with pytest.raises(UnauthenticatedError) as refused:
        await guard(authenticator).admit(
            Credentials(CredentialScheme.API_KEY, SECRET), Permission.ORDERS_READ, "10.0.0.1"
        )

    assert refused.value.invalid
    assert authenticator.shown == []


async def test_a_refusal_logs_the_reason_but_never_the_secret(service_log: io.StringIO) -> None:
    with pytest.raises(UnauthenticatedError):
        await guard(KnownSecret()).admit(
            Credentials(CredentialScheme.BEARER, "guessed-secret"),
            Permission.ORDERS_READ,
            "10.0.0.1",
        )

    lines = [json.loads(line) for line in service_log.getvalue().splitlines()]
    assert [(line["event"], line["reason"], line["client"]) for line in lines] == [
        ("authentication_failed", "unknown secret", "10.0.0.1")
    ]
    assert "guessed-secret" not in service_log.getvalue()


async def test_a_reason_quoting_a_hostile_credential_is_cut_in_the_log(
    service_log: io.StringIO,
) -> None:
    def quoted(secret: str) -> str:
        return f"algorithm {secret!r} is not accepted"

    class Quoting(KnownSecret):
        async def authenticate(self, secret: str) -> Principal:
            raise InvalidCredentialsError(quoted(secret))

    hostile = "A" * 16_384
    with pytest.raises(UnauthenticatedError):
        await guard(Quoting()).admit(
            Credentials(CredentialScheme.BEARER, hostile), Permission.ORDERS_READ, "10.0.0.1"
        )

    [line] = service_log.getvalue().splitlines()
    reason = json.loads(line)["reason"]
    assert reason == f"{quoted(hostile)[:MAX_REASON_LENGTH]}... ({len(quoted(hostile))} characters)"


@pytest.mark.usefixtures("one_rate_window")
async def test_a_missing_permission_is_denied_after_the_call_is_counted() -> None:
    limited = guard(KnownSecret(), per_caller="1/minute")
    reader = Credentials(CredentialScheme.BEARER, SECRET)

    with pytest.raises(PermissionDeniedError):
        await limited.admit(reader, Permission.ORDERS_WRITE, "10.0.0.1")
    with pytest.raises(RateLimitedError):
        await limited.admit(reader, Permission.ORDERS_READ, "10.0.0.1")


@pytest.mark.usefixtures("one_rate_window")
async def test_failed_attempts_count_against_the_address() -> None:
    limited = guard(KnownSecret(), per_ip="2/minute")
    guess = Credentials(CredentialScheme.BEARER, "guess")

    for _ in range(2):
        with pytest.raises(UnauthenticatedError):
            await limited.admit(guess, Permission.ORDERS_READ, "10.0.0.9")
    with pytest.raises(RateLimitedError) as refused:
        await limited.admit(guess, Permission.ORDERS_READ, "10.0.0.9")
    admitted = await limited.admit(
        Credentials(CredentialScheme.BEARER, SECRET), Permission.ORDERS_READ, "10.0.0.9"
    )

    assert refused.value.quota.policy == "per-ip"
    assert admitted.principal.subject == "reader"


@pytest.mark.usefixtures("one_rate_window")
async def test_without_an_authenticator_everyone_may_everything_counted_per_address() -> None:
    open_guard = guard(None, per_ip="1/minute")

    admission = await open_guard.admit(None, Permission.ORDERS_WRITE, "10.0.0.1")
    with pytest.raises(RateLimitedError):
        await open_guard.admit(None, Permission.ORDERS_WRITE, "10.0.0.1")
    other = await open_guard.admit(None, Permission.ORDERS_WRITE, "10.0.0.2")

    assert not admission.principal.authenticated
    assert other.quota is not None


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", "minute"])
def test_a_rate_that_is_not_one_stops_the_start(rate: str) -> None:
    with pytest.raises(ValueError, match="write a rate as"):
        Settings(rate_limit_per_caller=rate)
