"""The REST guard of a service that leaves authentication to a gateway (auth=none)."""

import pytest

from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.rest.guarded import client_of


@pytest.mark.usefixtures("one_rate_window")
async def test_every_caller_is_trusted_and_counted_per_address(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_ip": "2/minute"})
    async with client_of(limited, address="192.0.2.1") as first:
        spent = [(await first.get("/v1/orders")).status_code for _ in range(3)]
    async with client_of(limited, address="192.0.2.2") as second:
        other = await second.get("/v1/orders")

    assert spent == [200, 200, 429]
    assert other.status_code == 200
