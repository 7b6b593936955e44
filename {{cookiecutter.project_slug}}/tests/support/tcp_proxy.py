"""A TCP proxy the tests control, to cut a dependency off and bring it back.

The shared database or broker is never stopped; the service under test talks
to it through this proxy, and :meth:`TcpProxy.cut` severs every connection.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from types import TracebackType
from typing import Self

from {{ cookiecutter.package_name }}.observability.health import answers
from tests.support.waiting import eventually


class TcpProxy:
    """Forward 127.0.0.1:<port> to an upstream host and port."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.accepting = True

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`restore`."""
        self.accepting = False
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        """Accept and forward connections again."""
        self.accepting = True

    async def restored(self, ping: Callable[[], Awaitable[None]]) -> None:
        """Restore, then wait until ``ping`` (a storage's, a broker's) succeeds through the proxy.

        For a test that closes its client after a cut: a client closed while it
        reconnects cancels the connect in flight, and PyMongo (4.20) leaks the
        socket of a connect cancelled from outside.
        """
        self.restore()
        await eventually(partial(answers, ping), seconds=30)

    async def _handle(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if not self.accepting:
            client.transport.abort()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self._upstream)
        except OSError:
            client.transport.abort()
            return
        self._open |= {client, upstream}
        await asyncio.gather(
            self._pipe(client_reader, upstream), self._pipe(upstream_reader, client)
        )
        self._open -= {client, upstream}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
