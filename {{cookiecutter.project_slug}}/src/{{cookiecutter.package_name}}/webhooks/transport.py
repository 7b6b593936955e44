"""The connections webhooks go out on: only to addresses the destination policy allows.

An endpoint's URL is checked when it is saved, but its name may resolve
elsewhere by the time a webhook is sent (DNS rebinding). So the name is
resolved here, at each connection, every address it resolves to is checked,
and the connection goes to one of those same addresses: nothing resolves the
name again between the check and the connect. TLS still verifies the
certificate against the URL's name (SNI), and the ``Host`` header still
carries it: only the address is pinned. A refused destination is a failed
connection, with the reason as its message.
"""

import asyncio
import contextlib
from collections.abc import Iterable

import httpcore2
import httpx2

from {{ cookiecutter.package_name }}.webhooks.destinations import DestinationPolicy, UnsafeDestinationError

# httpcore2's own type for socket options (level, option, value).
type SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
_CONNECT_FAILURES = (httpcore2.ConnectError, httpcore2.ConnectTimeout)


class RefusedDestinationError(httpcore2.ConnectError):
    """The destination's address is not one webhooks may connect to; nothing was connected."""


class GuardedNetworkBackend(httpcore2.AsyncNetworkBackend):
    """Resolves each host through the policy and connects only to the addresses it allows."""

    def __init__(
        self, policy: DestinationPolicy, backend: httpcore2.AsyncNetworkBackend | None = None
    ) -> None:
        self._policy = policy
        self._backend = backend or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        """A connection to the first allowed address of ``host`` that answers."""
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._policy.addresses(host, port)
        except UnsafeDestinationError as error:
            raise RefusedDestinationError(f"destination refused: {error.reason}") from None
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from None
        *others, last = [str(address) for address in addresses]
        for address in others:
            with contextlib.suppress(*_CONNECT_FAILURES):
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
        return await self._backend.connect_tcp(last, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        """Never: a webhook goes to a network address."""
        raise RefusedDestinationError("destination refused: a unix socket")

    async def sleep(self, seconds: float) -> None:
        """Wait as the wrapped backend waits."""
        await self._backend.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport, its connections made through :class:`GuardedNetworkBackend`.

    httpx2's transport takes no network backend, but the connection pool under
    it does: the pool is replaced by one built the same way with the guarded
    backend. This is the one place the service touches httpx2's internals (its
    ``_pool`` attribute); the SSRF tests fail if a new httpx2 stops using it.
    Proxies from the environment are not used: a proxy would make the
    connection in our stead, past the guard.
    """

    def __init__(self, policy: DestinationPolicy, *, max_connections: int) -> None:
        ssl_context = httpx2.create_ssl_context(trust_env=False)  # loading CAs takes a while
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=GuardedNetworkBackend(policy),
        )
