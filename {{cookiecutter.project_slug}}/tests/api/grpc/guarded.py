"""What the gRPC tests of the guard share: a server of their own and a call that must fail."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import open_channel
from {{ cookiecutter.package_name }}.api.grpc.server import running_server
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import server_settings


async def failure(call: object) -> aio.AioRpcError:
    """Await a call that must fail, and return its error."""
    with pytest.raises(aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


@asynccontextmanager
async def channel_to(settings: Settings) -> AsyncIterator[aio.Channel]:
    """A channel to a new server on ``settings``."""
    async with (
        running_server(server_settings(settings)) as running,
        open_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        yield channel
