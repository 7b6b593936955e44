"""Requests too large to read: refused before authentication, and logged in bounded lines."""

import io
import json
from typing import Any

import httpx
import pytest

from {{ cookiecutter.package_name }}.api.rest.middleware import (
    LOGGED_PATH_LENGTH,
    MAX_HEADER_BYTES,
    MAX_TARGET_BYTES,
)
from {{ cookiecutter.package_name }}.settings import Settings

# Longer than any line the service writes about a request it refuses.
LONGEST_LOG_LINE = 1_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service as deployed: one log line per request."""
    return settings.model_copy(update={"log_requests": True})


def request_lines(service_log: io.StringIO) -> list[dict[str, Any]]:
    """The ``request`` lines the service logged."""
    records = [json.loads(line) for line in service_log.getvalue().splitlines()]
    return [record for record in records if record["event"] == "request"]


async def test_headers_beyond_the_limit_are_431_before_authentication(
    anonymous: httpx.AsyncClient, service_log: io.StringIO
) -> None:
    huge = {"Authorization": f"Bearer {'A' * 97_000}"}

    response = await anonymous.get("/v1/orders", headers=huge)

    assert response.status_code == 431
    assert response.json()["error"]["code"] == "request_header_fields_too_large"
    assert response.headers["x-request-id"]
    assert "authentication_failed" not in service_log.getvalue()
    assert [line["status"] for line in request_lines(service_log)] == [431]
    assert max(map(len, service_log.getvalue().splitlines())) < LONGEST_LOG_LINE


async def test_headers_within_the_limit_reach_the_service(anonymous: httpx.AsyncClient) -> None:
    padding = {"X-Padding": "x" * (MAX_HEADER_BYTES - 1_024)}

    assert (await anonymous.get("/healthz", headers=padding)).status_code == 200


async def test_a_target_beyond_the_limit_is_414_and_its_path_logged_cut(
    anonymous: httpx.AsyncClient, service_log: io.StringIO
) -> None:
    response = await anonymous.get(f"/v1/orders/{'a' * MAX_TARGET_BYTES}")

    assert response.status_code == 414
    assert response.json()["error"]["code"] == "uri_too_long"
    [line] = request_lines(service_log)
    assert line["path"] == f"/v1/orders/{'a' * (LOGGED_PATH_LENGTH - len('/v1/orders/'))}..."
