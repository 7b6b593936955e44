"""The REST guard of a service that leaves authentication to a gateway (auth=none)."""

from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.rest.guarded import ORDER, client_of


@pytest.mark.usefixtures("one_rate_window")
async def test_every_caller_is_trusted_and_counted_per_address(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_ip": "2/minute"})
    async with client_of(limited, address="192.0.2.1") as first:
        spent = [(await first.get("/v1/orders")).status_code for _ in range(3)]
    async with client_of(limited, address="192.0.2.2") as second:
        other = await second.get("/v1/orders")

    assert spent == [200, 200, 429]
    assert other.status_code == 200


async def test_idempotency_keys_are_shared_by_every_caller(settings: Settings) -> None:
    # Without authentication every caller is the same anonymous one: keys are global.
    key = {"Idempotency-Key": f"order-{uuid4()}"}
    async with (
        client_of(settings, key, address="192.0.2.3") as first,
        client_of(settings, key, address="192.0.2.4") as second,
    ):
        placed = await first.post("/v1/orders", json=ORDER)
        replayed = await second.post("/v1/orders", json=ORDER)

    assert placed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == placed.json()
