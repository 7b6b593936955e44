"""Shared fixtures, whichever API the service exposes.

The database fixtures come from the plugin of the chosen database; every test
below them is the same whichever database the service uses. The fixtures of
the API (an app and its client, or a server and its channel) live beside that
API's tests.
"""

from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.settings import Settings

pytest_plugins = ["tests.fixtures.{{ cookiecutter.database }}"]


@pytest.fixture
def settings(database_settings: Settings) -> Settings:
    """Settings of the service under test."""
    return database_settings.model_copy(update={"log_requests": False})


@pytest.fixture
def customer_id() -> str:
    """A customer of this test alone, so listings are not disturbed by other tests."""
    return f"customer-{uuid4().hex[:12]}"
