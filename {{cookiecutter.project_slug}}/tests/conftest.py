"""Shared fixtures, whichever API and database the service uses.

The plugin of the chosen database provides ``database_server`` (how to make a
database on the test server and reach it through a proxy), the plugins of the
events, if the service has a broker, ``broker_server`` and its fixtures, the plugin of the auth mode
``auth_settings`` and ``grant`` (credentials that hold given permissions), and
the plugin of the API the service under test (an app and its clients, or a
server, a channel and a client); every fixture and test below them is the same
whichever database, broker and auth mode the service uses.
"""

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.container import open_storage, open_webhook_store
from {{ cookiecutter.package_name }}.observability.logging import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import Storage
from {{ cookiecutter.package_name }}.storage.webhooks import WebhookStore
from tests.support.access import Grant
from tests.support.database import DatabaseServer
from tests.support.service_logs import logging_restored
from tests.support.tcp_proxy import TcpProxy

pytest_plugins = [
    "tests.fixtures.{{ cookiecutter.api }}",
    "tests.fixtures.{{ cookiecutter.database }}",
    "tests.fixtures.downstream",
{%- if cookiecutter.queue != "none" %}
    "tests.fixtures.events",
    "tests.fixtures.{{ cookiecutter.queue }}",
{%- endif %}
    "tests.fixtures.{{ 'no_auth' if cookiecutter.auth == 'none' else cookiecutter.auth }}",
]

# Tests that spend a quota use per-minute limits and take well under this room.
RATE_WINDOW_SECONDS = 60
RATE_WINDOW_ROOM_SECONDS = 6


@pytest.fixture
async def empty_database_settings(
    database_server: DatabaseServer, auth_settings: dict[str, Any]
) -> AsyncIterator[Settings]:
    """Settings for an empty database of this test alone (for migration tests)."""
    async with database_server.created_database() as settings:
        yield settings.model_copy(update=auth_settings)


@pytest.fixture(scope="session")
async def database_settings(
    database_server: DatabaseServer, auth_settings: dict[str, Any]
) -> AsyncIterator[Settings]:
    """Settings for the run's database, migrated to the latest revision."""
    async with database_server.migrated_database() as settings:
        yield settings.model_copy(update=auth_settings)


@pytest.fixture
async def fresh_database_settings(
    database_server: DatabaseServer, auth_settings: dict[str, Any]
) -> AsyncIterator[Settings]:
    """Settings for a migrated database of this test alone (for tests that count rows)."""
    async with database_server.migrated_database() as settings:
        yield settings.model_copy(update=auth_settings)


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
    # Webhook receivers in the tests listen on loopback, over plain http.
    return database_settings.model_copy(
        update={
            "log_requests": False,
            "webhooks_allow_http": True,
            "webhooks_allow_private_addresses": True,
        }
    )


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """What the service logs during the test, rendered as in production (JSON lines)."""
    stream = io.StringIO()
    with logging_restored():
        configure_logging("DEBUG", "json", stream)
        yield stream


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    """The storage adapter on the run's database, closed after the test."""
    opened = open_storage(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def webhooks(settings: Settings) -> AsyncIterator[WebhookStore]:
    """Webhook endpoints and deliveries on the run's database, closed after the test."""
    opened = open_storage(settings)
    try:
        yield open_webhook_store(opened)
    finally:
        await opened.close()


@pytest.fixture
async def credentials(grant: Grant) -> Credentials | None:
    """Credentials that may do everything, as the API tests' callers send them."""
    return await grant(*Permission)


@pytest.fixture
def customer_id() -> str:
    """A customer of this test alone, so listings are not disturbed by other tests."""
    return f"customer-{uuid4().hex[:12]}"


@pytest.fixture
async def one_rate_window() -> None:
    """Start the test with room left in the rate limiter's current one-minute window.

    The limiter (a sliding window counter) weighs the last window's count down
    from the first instant of the next, which frees a call: a test that spends a
    quota and expects the next call refused must not see a minute begin between them.
    """
    left = RATE_WINDOW_SECONDS - time.time() % RATE_WINDOW_SECONDS
    if left < RATE_WINDOW_ROOM_SECONDS:
        await asyncio.sleep(left)
