"""Shared fixtures, whichever API and database the service uses.

The plugin of the chosen database provides ``database_server`` (how to make a
database on the test server and reach it through a proxy); every fixture and
test below it is the same whichever database the service uses. The fixtures
of the API (an app and its client, or a server and its channel) live beside
that API's tests.
"""

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.container import open_migrator
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.database import DatabaseServer
from tests.support.tcp_proxy import TcpProxy

pytest_plugins = ["tests.fixtures.{{ cookiecutter.database }}"]


@pytest.fixture
async def empty_database_settings(database_server: DatabaseServer) -> AsyncIterator[Settings]:
    """Settings for an empty database of this test alone (for migration tests)."""
    async with database_server.created_database() as settings:
        yield settings


@pytest.fixture(scope="session")
async def database_settings(database_server: DatabaseServer) -> AsyncIterator[Settings]:
    """Settings for the run's database, migrated to the latest revision."""
    async with database_server.created_database() as settings:
        async with open_migrator(settings) as migrator:
            await migrator.upgrade("head")
        yield settings


@pytest.fixture
async def proxied_database(
    database_server: DatabaseServer, database_settings: Settings
) -> AsyncIterator[tuple[Settings, TcpProxy]]:
    """Settings whose database connections pass through a proxy the test controls."""
    async with TcpProxy(*database_server.address(database_settings)) as proxy:
        yield database_server.through(database_settings, proxy.port), proxy


@pytest.fixture
def settings(database_settings: Settings) -> Settings:
    """Settings of the service under test."""
    return database_settings.model_copy(update={"log_requests": False})


@pytest.fixture
def customer_id() -> str:
    """A customer of this test alone, so listings are not disturbed by other tests."""
    return f"customer-{uuid4().hex[:12]}"
