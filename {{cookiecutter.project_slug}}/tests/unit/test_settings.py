"""Configuration: documented in .env.example, validated at start-up."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.database import DatabaseServer

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"


def setting_names() -> set[str]:
    """Every environment variable the settings read; a nested group as ``GROUP__FIELD``."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            names.update(f"{name}__{inner}".upper() for inner in group.model_fields)
        else:
            names.add(name.upper())
    return names


def documented_names() -> set[str]:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def test_every_setting_is_documented_in_env_example() -> None:
    assert documented_names() == setting_names()


def test_env_example_values_are_valid() -> None:
    assert Settings(_env_file=ENV_EXAMPLE)


def assert_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


@pytest.mark.parametrize(("name", "value"), [("HTTP_PORT", "70000"), ("LOG_FORMAT", "xml")])
def test_invalid_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    assert_rejected(monkeypatch, name, value)


def test_invalid_database_settings_are_rejected(database_server: DatabaseServer) -> None:
    for name, value in database_server.invalid_settings:
        with pytest.MonkeyPatch.context() as monkeypatch:
            assert_rejected(monkeypatch, name, value)


def test_a_delivery_lease_that_does_not_outlast_its_deadline_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOKS_DELIVER_LEASE_SECONDS", "15")
    monkeypatch.setenv("WEBHOOKS_DELIVERY__DEADLINE_SECONDS", "15")

    with pytest.raises(ValidationError, match="WEBHOOKS_DELIVER_LEASE_SECONDS must exceed"):
        Settings()


def test_more_deliveries_in_flight_than_connections_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOKS_DELIVER_CONCURRENCY", "30")

    with pytest.raises(ValidationError, match="WEBHOOKS_DELIVER_CONCURRENCY must not exceed"):
        Settings()
