"""The REST app on the chosen database, and an HTTP client for it."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running (connections open, container built)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(
    app: FastAPI, credentials: Credentials | None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the app in process, as a caller that may do everything.

    Unhandled errors become 500s, as they would over the network.
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=access.headers(credentials)
    ) as http:
        yield http
