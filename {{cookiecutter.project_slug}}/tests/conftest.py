"""Shared fixtures: the app on the chosen database, and an HTTP client for it.

The database fixtures come from the plugin of the chosen database; every test
below them is the same whichever database the service uses.
"""

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

pytest_plugins = ["tests.fixtures.{{ cookiecutter.database }}"]


@pytest.fixture
def settings(database_settings: Settings) -> Settings:
    """Settings of the app under test."""
    return database_settings.model_copy(update={"log_requests": False})


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running (connections open, container built)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the app in process; unhandled errors become 500s."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def customer_id() -> str:
    """A customer of this test alone, so listings are not disturbed by other tests."""
    return f"customer-{uuid4().hex[:12]}"
