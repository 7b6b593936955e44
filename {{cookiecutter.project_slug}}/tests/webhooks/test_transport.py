"""The connection-time SSRF guard: refused destinations are never connected to.

A refused address on loopback is a real listener that counts the connections
it accepts (none); addresses a test cannot listen on are refused before the
real network backend under the guard is even asked to connect. Names resolve
through an injected resolver: no test asks real DNS, and none reaches
anything but loopback.
"""

from collections.abc import Iterable, Mapping, Sequence
from uuid import uuid4

import httpcore2
import pytest

from {{ cookiecutter.package_name }}.resilience.breaker.circuit import CircuitBreaker
from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.resilience.errors import DownstreamUnavailableError
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.webhooks.destinations import DestinationPolicy, Resolver
from {{ cookiecutter.package_name }}.webhooks.transport import (
    GuardedNetworkBackend,
    GuardedTransport,
    RefusedDestinationError,
    SocketOption,
)
from tests.support.downstream import FAST, MisbehavingServer

# One attempt; timeouts no test here is about, long enough for a machine under load.
SETTINGS = FAST.model_copy(
    update={"retry_attempts": 1, "connect_timeout_seconds": 5.0, "read_timeout_seconds": 5.0}
)
# A public address (example.com's), only ever checked here: no test connects to it.
PUBLIC = "93.184.215.14"


def resolving(names: Mapping[str, Sequence[str]]) -> Resolver:
    """A resolver that knows only ``names`` (the test's own DNS)."""

    async def resolve(host: str, _: int) -> list[str]:
        return list(names[host])

    return resolve


def guarded_client(
    policy: DestinationPolicy, *, max_response_bytes: int | None = None
) -> DownstreamClient:
    """A client as the deliverer builds it: the guarded transport, no redirects."""
    name = f"guarded-{uuid4().hex[:8]}"
    breaker = CircuitBreaker.for_downstream(name, SETTINGS, MemoryBreakerStore())
    return DownstreamClient(
        name,
        SETTINGS,
        breaker,
        transport=GuardedTransport(policy, max_connections=4),
        max_response_bytes=max_response_bytes,
    )


class RecordingBackend(httpcore2.AsyncNetworkBackend):
    """The real network backend, noting every address it is asked to connect to."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._real = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        self.asked.append(host)
        return await self._real.connect_tcp(host, port, timeout, local_address, socket_options)


async def test_a_loopback_destination_is_refused_without_a_connection(
    downstream: MisbehavingServer,
) -> None:
    client = guarded_client(DestinationPolicy(allow_http=True))

    with pytest.raises(DownstreamUnavailableError) as refused:
        await client.post(f"{downstream.url}/hooks", content=b"{}")

    assert "destination refused: 127.0.0.1 is not a public address" in refused.value.reason
    assert downstream.connections == 0
    await client.aclose()


async def test_a_name_that_resolves_to_loopback_is_refused_without_a_connection(
    downstream: MisbehavingServer,
) -> None:
    policy = DestinationPolicy(
        allow_http=True, resolver=resolving({"hooks.example.test": ["127.0.0.1"]})
    )
    client = guarded_client(policy)

    with pytest.raises(DownstreamUnavailableError) as refused:
        await client.post(f"http://hooks.example.test:{downstream.port}/hooks", content=b"{}")

    assert "127.0.0.1 is not a public address" in refused.value.reason
    assert downstream.connections == 0
    await client.aclose()


async def test_dns_that_changes_after_the_check_is_caught_at_connection_time(
    downstream: MisbehavingServer,
) -> None:
    names = {"hooks.example.test": [PUBLIC]}
    policy = DestinationPolicy(allow_http=True, resolver=resolving(names))
    url = f"http://hooks.example.test:{downstream.port}/hooks"
    await policy.check(url)  # as when the endpoint was saved: a public address then

    names["hooks.example.test"] = ["127.0.0.1"]  # rebound since
    client = guarded_client(policy)
    with pytest.raises(DownstreamUnavailableError) as refused:
        await client.post(url, content=b"{}")

    assert "127.0.0.1 is not a public address" in refused.value.reason
    assert downstream.connections == 0
    await client.aclose()


async def test_an_allowed_name_connects_to_the_address_it_was_checked_at_and_keeps_its_host(
    downstream: MisbehavingServer,
) -> None:
    policy = DestinationPolicy(
        allow_http=True,
        allow_private=True,
        resolver=resolving({"receiver.example.test": ["127.0.0.1"]}),
    )
    client = guarded_client(policy)

    response = await client.post(
        f"http://receiver.example.test:{downstream.port}/hooks", content=b'{"n":1}'
    )

    assert response.status_code == 200
    (received,) = downstream.received
    assert received.headers["host"] == f"receiver.example.test:{downstream.port}"
    assert received.body == b'{"n":1}'
    await client.aclose()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "not a public address"),
        ("::1", "not a public address"),
        ("::ffff:127.0.0.1", "127.0.0.1 is not a public address"),
        ("0.0.0.0", "not a public address"),  # noqa: S104 - an address refused, not bound
        ("10.1.2.3", "not a public address"),
        ("172.16.0.1", "not a public address"),
        ("192.168.1.1", "not a public address"),
        ("100.64.0.1", "not a public address"),
        ("169.254.10.10", "not a public address"),
        ("fe80::1", "not a public address"),
        ("fd12::1", "not a public address"),
        ("169.254.169.254", "cloud metadata address"),
        ("fd00:ec2::254", "cloud metadata address"),
        ("224.0.0.1", "multicast address"),
        ("ff02::1", "multicast address"),
    ],
)
async def test_each_kind_of_forbidden_address_is_refused_before_any_connect(
    address: str, reason: str
) -> None:
    network = RecordingBackend()
    guard = GuardedNetworkBackend(DestinationPolicy(allow_http=True), network)

    with pytest.raises(RefusedDestinationError, match=reason):
        await guard.connect_tcp(address, 443, timeout=1.0)

    assert network.asked == []


@pytest.mark.parametrize("address", ["169.254.169.254", "100.100.100.200", "fd00:ec2::254"])
async def test_cloud_metadata_is_refused_even_where_private_addresses_are_allowed(
    address: str,
) -> None:
    network = RecordingBackend()
    guard = GuardedNetworkBackend(DestinationPolicy(allow_private=True), network)

    with pytest.raises(RefusedDestinationError, match="cloud metadata"):
        await guard.connect_tcp(address, 80, timeout=1.0)

    assert network.asked == []


async def test_one_forbidden_address_among_a_names_addresses_refuses_them_all() -> None:
    network = RecordingBackend()
    policy = DestinationPolicy(resolver=resolving({"mixed.example.test": [PUBLIC, "10.0.0.7"]}))
    guard = GuardedNetworkBackend(policy, network)

    with pytest.raises(RefusedDestinationError, match=r"10\.0\.0\.7"):
        await guard.connect_tcp("mixed.example.test", 443, timeout=1.0)

    assert network.asked == []


async def test_a_unix_socket_is_never_a_destination() -> None:
    guard = GuardedNetworkBackend(DestinationPolicy(allow_private=True), RecordingBackend())

    with pytest.raises(RefusedDestinationError):
        await guard.connect_unix_socket("/var/run/docker.sock")


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    async def nowhere(host: str, _: int) -> list[str]:
        return []

    guard = GuardedNetworkBackend(DestinationPolicy(resolver=nowhere), RecordingBackend())

    with pytest.raises(RefusedDestinationError, match="resolves to no address"):
        await guard.connect_tcp("void.example.test", 443, timeout=1.0)


async def test_a_proxy_from_the_environment_is_not_used(
    downstream: MisbehavingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = MisbehavingServer()
    await proxy.start()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    client = guarded_client(DestinationPolicy(allow_http=True, allow_private=True))

    response = await client.post(f"{downstream.url}/hooks", content=b"{}")

    assert response.status_code == 200
    assert downstream.count() == 1
    assert proxy.connections == 0, "a proxy would connect in the guard's stead"
    await client.aclose()
    await proxy.stop()
