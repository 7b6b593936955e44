"""The JWKS cache against a real local issuer: discovery, expiry, rotation, refresh limits."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.jwks import IssuerUnavailableError, JwksCache, discover
from {{ cookiecutter.package_name }}.auth.oauth2 import OAuth2Authenticator, token_rules
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.downstream import FAST, downstream_client
from tests.support.issuer import RFC8414_METADATA, LocalIssuer, SigningKey
from tests.support.processes import free_port

AUDIENCE = "jwks-tests"
TTL = 60.0
INTERVAL = 10.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(AUDIENCE) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[DownstreamClient]:
    async with contextlib.aclosing(downstream_client(name="oauth2-issuer")) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(http: DownstreamClient, issuer: LocalIssuer, clock: Clock) -> JwksCache:
    return JwksCache(
        http, issuer.issuer, ttl_seconds=TTL, refresh_interval_seconds=INTERVAL, clock=clock
    )


async def test_discovery_reads_the_openid_configuration(
    http: DownstreamClient, issuer: LocalIssuer
) -> None:
    metadata = await discover(http, issuer.issuer)

    assert metadata.issuer == issuer.issuer
    assert metadata.jwks_uri == f"{issuer.metadata()['jwks_uri']}"
    assert metadata.token_endpoint == issuer.metadata()["token_endpoint"]


async def test_discovery_falls_back_to_rfc8414_metadata_before_the_issuer_path(
    http: DownstreamClient,
) -> None:
    with LocalIssuer(AUDIENCE, path="/tenants/a", discovery=RFC8414_METADATA) as tenant:
        metadata = await discover(http, tenant.issuer)

    assert tenant.issuer.endswith("/tenants/a")
    assert metadata.issuer == tenant.issuer
    assert tenant.requests["discovery"] == 1


async def test_metadata_naming_another_issuer_is_rejected(
    cache: JwksCache, issuer: LocalIssuer
) -> None:
    issuer.metadata_issuer = "https://impostor.example"

    with pytest.raises(IssuerUnavailableError) as raised:
        await cache.key(issuer.signing_key.kid)
    assert "impostor" in raised.value.reason
    assert issuer.requests["jwks"] == 0


async def test_keys_are_fetched_once_and_again_after_the_ttl(
    cache: JwksCache, issuer: LocalIssuer, clock: Clock
) -> None:
    for key in issuer.keys:
        assert (await cache.key(key.kid)).kid == key.kid
    clock.advance(TTL - 1)
    await cache.key(issuer.signing_key.kid)
    assert issuer.requests["jwks"] == 1

    clock.advance(1)
    await cache.key(issuer.signing_key.kid)

    assert issuer.requests["jwks"] == 2
    assert issuer.requests["discovery"] == 1


async def test_concurrent_first_uses_share_one_fetch(cache: JwksCache, issuer: LocalIssuer) -> None:
    keys = await asyncio.gather(*(cache.key(issuer.signing_key.kid) for _ in range(20)))

    assert {key.kid for key in keys} == {issuer.signing_key.kid}
    assert issuer.requests["jwks"] == 1


async def test_an_unknown_kid_refreshes_once_for_many_concurrent_calls(
    cache: JwksCache, issuer: LocalIssuer, clock: Clock
) -> None:
    await cache.key(issuer.signing_key.kid)
    clock.advance(INTERVAL)

    outcomes = await asyncio.gather(
        *(cache.key("unknown-kid") for _ in range(50)), return_exceptions=True
    )

    assert all(isinstance(outcome, InvalidCredentialsError) for outcome in outcomes)
    assert issuer.requests["jwks"] == 2


async def test_unknown_kids_within_the_refresh_interval_cost_no_fetch(
    cache: JwksCache, issuer: LocalIssuer, clock: Clock
) -> None:
    await cache.key(issuer.signing_key.kid)
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError, match="too recently"):
            await cache.key("made-up")
        clock.advance(INTERVAL / 10)
    assert issuer.requests["jwks"] == 1

    clock.advance(INTERVAL)
    with pytest.raises(InvalidCredentialsError, match="unknown key id"):
        await cache.key("made-up")

    assert issuer.requests["jwks"] == 2


async def test_after_rotation_new_keys_verify_and_retired_keys_do_not(
    http: DownstreamClient, cache: JwksCache, issuer: LocalIssuer, clock: Clock
) -> None:
    settings = Settings(oauth2_issuer=issuer.issuer, oauth2_audience=AUDIENCE)
    authenticator = OAuth2Authenticator(cache, token_rules(settings, issuer.issuer), http)
    old = issuer.access_token("before", "orders:read")
    assert (await authenticator.authenticate(old)).subject == "before"

    issuer.rotate("RS256")
    clock.advance(INTERVAL)
    new = issuer.access_token("after", "orders:read")

    assert (await authenticator.authenticate(new)).subject == "after"
    assert issuer.requests["jwks"] == 2
    # The refresh replaced the whole set: the retired key is gone with it.
    with pytest.raises(InvalidCredentialsError, match="unknown key id"):
        await authenticator.authenticate(old)


async def test_cached_keys_keep_serving_while_the_issuer_fails(
    cache: JwksCache, issuer: LocalIssuer, clock: Clock
) -> None:
    kid = issuer.signing_key.kid
    await cache.key(kid)
    clock.advance(TTL)

    with issuer.unavailable():
        assert (await cache.key(kid)).kid == kid
        clock.advance(INTERVAL / 2)
        assert (await cache.key(kid)).kid == kid  # no new attempt within the interval
    # One refresh, which retried the 503 as often as the issuer's client allows.
    assert issuer.requests["refused"] == FAST.retry_attempts

    clock.advance(INTERVAL)
    await cache.key(kid)
    assert issuer.requests["jwks"] == 2


async def test_cached_keys_keep_serving_while_the_issuer_is_unreachable(
    http: DownstreamClient, clock: Clock
) -> None:
    issuer = LocalIssuer(AUDIENCE).start()
    cache = JwksCache(
        http, issuer.issuer, ttl_seconds=TTL, refresh_interval_seconds=INTERVAL, clock=clock
    )
    kid = issuer.signing_key.kid
    await cache.key(kid)
    issuer.stop()
    clock.advance(TTL)

    assert (await cache.key(kid)).kid == kid


async def test_without_any_cached_key_an_unreachable_issuer_is_unavailable(
    http: DownstreamClient, clock: Clock
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    cache = JwksCache(http, nobody, ttl_seconds=TTL, refresh_interval_seconds=INTERVAL, clock=clock)

    with pytest.raises(IssuerUnavailableError):
        await cache.key("any")
    with pytest.raises(IssuerUnavailableError):  # within the interval: no new attempt
        await cache.key("any")


@pytest.mark.parametrize(
    "change",
    [{"kid": None}, {"use": "enc"}, {"kty": "oct", "k": "c2VjcmV0"}, {"kty": "nonsense"}],
    ids=["no-kid", "encryption-key", "symmetric-key", "unknown-key-type"],
)
async def test_keys_unfit_for_signatures_are_ignored(
    cache: JwksCache, issuer: LocalIssuer, change: dict[str, str | None]
) -> None:
    extra = SigningKey.generate("RS256")
    member = {**extra.public_jwk(), **change}
    issuer.extra_jwks.append({name: value for name, value in member.items() if value is not None})

    with pytest.raises(InvalidCredentialsError):
        await cache.key(extra.kid)
    assert (await cache.key(issuer.signing_key.kid)).kid == issuer.signing_key.kid
