"""The gRPC side of the guard: every RPC needs a permission, quotas hold, statuses are right.

The attacks on each kind of credential live in ``tests/auth``; here every mode
must give the same statuses through the same transport.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import grpc
import pytest
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.api.grpc.security import METHOD_PERMISSIONS, peer_address
from {{ cookiecutter.package_name }}.api.grpc.server import running_server
{%- if cookiecutter.auth != "none" %}
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
{%- endif %}
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import details_of, new_order, server_settings
from tests.support import access
from tests.support.access import Grant


async def failure(call: object) -> aio.AioRpcError:
    """Await a call that must fail, and return its error."""
    with pytest.raises(aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


@asynccontextmanager
async def channel_to(settings: Settings) -> AsyncIterator[aio.Channel]:
    """A channel to a new server on ``settings``."""
    async with (
        running_server(server_settings(settings)) as running,
        open_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        yield channel


def test_every_rpc_of_the_orders_service_has_a_permission() -> None:
    service = orders_pb2.DESCRIPTOR.services_by_name["OrdersService"]
    methods = {f"/{service.full_name}/{method.name}" for method in service.methods}

    assert set(METHOD_PERMISSIONS) == methods


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.1.2.3:5000", "10.1.2.3"),
        ("ipv6:[::1]:5000", "::1"),
        ("unix:/run/app.sock", "unix:/run/app.sock"),
    ],
)
def test_peer_address(peer: str, address: str) -> None:
    assert peer_address(peer) == address
{%- if cookiecutter.auth != "none" %}


async def test_a_call_without_credentials_is_unauthenticated(settings: Settings) -> None:
    async with channel_to(settings) as channel:
        error = details_of(await failure(OrdersClient(channel).get_order(str(uuid4()))))

    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert error.reason == "UNAUTHENTICATED"


async def test_invalid_credentials_are_unauthenticated(
    settings: Settings, credentials: Credentials | None
) -> None:
    assert credentials is not None
    forged = Credentials(credentials.scheme, credentials.secret[:-4] + "AAAA")
    async with channel_to(settings) as channel:
        client = OrdersClient(channel, metadata=access.metadata(forged))
        error = details_of(await failure(client.get_order(str(uuid4()))))

    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert error.reason == "INVALID_CREDENTIALS"
    assert error.message == "The credentials are not valid."


async def test_a_caller_without_the_permission_is_denied(settings: Settings, grant: Grant) -> None:
    reader = await grant(Permission.ORDERS_READ, subject=f"reader-{uuid4().hex[:8]}")
    async with channel_to(settings) as channel:
        client = OrdersClient(channel, metadata=access.metadata(reader))
        listed = await client.list_orders(orders_pb2.ListOrdersRequest(page_size=1))
        error = details_of(await failure(client.create_order(new_order("denied"))))

    assert listed is not None
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "PERMISSION_DENIED"
{%- endif %}


async def test_a_call_beyond_the_quota_is_resource_exhausted(
    settings: Settings, grant: Grant
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_per_caller": "2/minute", "rate_limit_per_ip": "2/minute"}
    )
    caller = await grant(*Permission, subject=f"caller-{uuid4().hex[:8]}")
    async with channel_to(limited) as channel:
        client = OrdersClient(channel, metadata=access.metadata(caller))
        for _ in range(2):
            await client.list_orders(orders_pb2.ListOrdersRequest(page_size=1))
        error = details_of(await failure(client.create_order(new_order("limited"))))

    policy = "{{ 'per-ip' if cookiecutter.auth == 'none' else 'per-caller' }}"
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.reason == "RATE_LIMITED"
    assert error.quota_violations == {policy: "2 calls per 60 seconds"}
    assert error.retry_delay_seconds is not None
    assert 1 <= error.retry_delay_seconds <= 60
