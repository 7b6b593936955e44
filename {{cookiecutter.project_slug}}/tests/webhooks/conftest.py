"""A database of each test's own (deliveries are claimed from every endpoint), and receivers."""

from collections.abc import AsyncIterator

import pytest

from {{ cookiecutter.package_name }}.container import Container, build_container, open_webhook_deliverer
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.webhooks.delivery import WebhookDeliverer
from tests.support.downstream import MisbehavingServer
from tests.support.webhooks import FAST_WEBHOOKS


@pytest.fixture
def webhook_settings(fresh_database_settings: Settings) -> Settings:
    """Settings with a quick schedule and short leases, on a database of this test alone."""
    return fresh_database_settings.model_copy(update={"log_requests": False, **FAST_WEBHOOKS})


@pytest.fixture
async def webhook_container(webhook_settings: Settings) -> AsyncIterator[Container]:
    """The service's container on ``webhook_settings``."""
    async with build_container(webhook_settings) as container:
        yield container


@pytest.fixture
async def deliverer(webhook_container: Container) -> AsyncIterator[WebhookDeliverer]:
    """The deliverer as the ``deliver`` worker builds it."""
    async with open_webhook_deliverer(webhook_container) as opened:
        yield opened


async def _receiver() -> AsyncIterator[MisbehavingServer]:
    server = MisbehavingServer(effect_key="webhook-id")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[MisbehavingServer]:
    """A webhook receiver on loopback: answers 200 until scripted; one effect per webhook-id."""
    async for server in _receiver():
        yield server


@pytest.fixture
async def other_receiver() -> AsyncIterator[MisbehavingServer]:
    """A second receiver."""
    async for server in _receiver():
        yield server
