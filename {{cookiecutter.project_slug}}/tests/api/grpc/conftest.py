"""A real grpc.aio server on loopback TCP, and a real client with the example's channel."""

from collections.abc import AsyncIterator

import pytest
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.api.grpc.server import RunningServer, running_server
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import server_settings
from tests.support import access


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    """The service, started; stopped (gracefully) after the test."""
    async with running_server(server_settings(settings)) as running:
        yield running


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[aio.Channel]:
    """A channel to the server, with the client example's retry policy."""
    async with open_channel(f"127.0.0.1:{server.port}") as opened:
        yield opened


@pytest.fixture
def client(channel: aio.Channel, credentials: Credentials | None) -> OrdersClient:
    """The client example (a deadline on every call), as a caller that may do everything."""
    return OrdersClient(channel, metadata=access.metadata(credentials))
