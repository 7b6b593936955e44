"""Which URLs this service will send webhooks to: a guard against server-side request forgery.

A subscriber chooses the URL, so without a guard it could make the service
call its own network: a database, an admin port, the cloud's metadata
service. A destination is checked when an endpoint is created or changed, and
again at every connection, on the addresses the name resolves to then (DNS
can change between the two). Cloud metadata addresses are refused even where
private addresses are allowed (local runs, tests): nothing legitimate lives there.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name resolves to
type Resolver = Callable[[str, int], Awaitable[list[str]]]

CLOUD_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_DEFAULT_PORTS = {"https": 443, "http": 80}


class UnsafeDestinationError(ValueError):
    """The URL, or an address its host resolves to, is not one webhooks may be sent to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (the system resolver, off the event loop)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise UnsafeDestinationError(f"{host} does not resolve: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _unwrapped(address: IPAddress) -> IPAddress:
    """An IPv4 address written as IPv6 (``::ffff:10.0.0.1``) is judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """What the settings allow: plain http, and private or loopback addresses."""

    allow_http: bool = False
    allow_private: bool = False
    resolver: Resolver = resolve

    def check_url(self, url: str) -> SplitResult:
        """The URL's parts, if its form is acceptable (no resolution yet)."""
        parts = urlsplit(url)
        allowed = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in allowed:
            raise UnsafeDestinationError(f"the URL must use {' or '.join(allowed)}")
        if not parts.hostname:
            raise UnsafeDestinationError("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise UnsafeDestinationError("the URL must not carry credentials")
        if parts.fragment:
            raise UnsafeDestinationError("the URL must not have a fragment")
        try:
            parts.port  # noqa: B018 - parsing the port raises on a bad one
        except ValueError:
            raise UnsafeDestinationError("the URL's port is not valid") from None
        return parts

    def check_address(self, address: str) -> IPAddress:
        """``address``, if a webhook may connect to it."""
        ip = _unwrapped(ipaddress.ip_address(address))
        if ip in CLOUD_METADATA_ADDRESSES:
            raise UnsafeDestinationError(f"{ip} is a cloud metadata address")
        if self.allow_private:
            return ip
        if ip.is_multicast:
            raise UnsafeDestinationError(f"{ip} is a multicast address")
        if not ip.is_global:
            raise UnsafeDestinationError(f"{ip} is not a public address")
        return ip

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``; every one must be allowed, or none is used."""
        if _is_literal(host):
            return [self.check_address(host)]
        resolved = await self.resolver(host, port)
        if not resolved:
            raise UnsafeDestinationError(f"{host} resolves to no address")
        return [self.check_address(address) for address in resolved]

    async def check(self, url: str) -> None:
        """Raise :class:`UnsafeDestinationError` unless ``url`` may receive webhooks now."""
        parts = self.check_url(url)
        host = parts.hostname or ""
        await self.addresses(host, parts.port or _DEFAULT_PORTS[parts.scheme])
