"""API keys through the gRPC API: UNAUTHENTICATED, PERMISSION_DENIED, nothing in the logs."""

import contextlib
import io
from typing import Any
from uuid import uuid4

import grpc
import pytest
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient
from {{ cookiecutter.package_name }}.auth.api_keys import ApiKeyIssuer, KeyFormat
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore
from tests.api.grpc.calls import new_order
from tests.support import access
from tests.support.access import Grant
from tests.support.api_keys import assert_no_key_in, with_secret

READ = Permission.ORDERS_READ.value


def client_with(channel: aio.Channel, credentials: Credentials | None) -> OrdersClient:
    return OrdersClient(channel, metadata=access.metadata(credentials))


async def status_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(aio.AioRpcError) as failure:
        await call
    return failure.value.code()


async def test_a_call_without_a_key_is_unauthenticated(channel: aio.Channel) -> None:
    client = client_with(channel, None)
    status = await status_of(client.list_orders(orders_pb2.ListOrdersRequest()))

    assert status == grpc.StatusCode.UNAUTHENTICATED


async def test_a_call_with_a_bad_key_is_unauthenticated(
    settings: Settings, channel: aio.Channel
) -> None:
    _, unknown = KeyFormat(settings.api_key_prefix).new_key()
    for key in (unknown, unknown[:-1], "not-a-key"):
        client = OrdersClient(channel, metadata=(("x-api-key", key),))
        status = await status_of(client.list_orders(orders_pb2.ListOrdersRequest()))

        assert status == grpc.StatusCode.UNAUTHENTICATED


async def test_a_read_only_key_may_read_but_not_write(channel: aio.Channel, grant: Grant) -> None:
    client = client_with(channel, await grant(Permission.ORDERS_READ))

    await client.list_orders(orders_pb2.ListOrdersRequest())
    status = await status_of(client.create_order(new_order("api-keys")))

    assert status == grpc.StatusCode.PERMISSION_DENIED


async def use_the_api(channel: aio.Channel, keys: list[str]) -> None:
    for key in keys:
        client = OrdersClient(channel, metadata=(("x-api-key", key),))
        with contextlib.suppress(aio.AioRpcError):
            await client.create_order(new_order("api-keys"))


async def test_a_key_never_reaches_the_log(
    settings: Settings,
    api_keys: ApiKeyStore,
    service_log: io.StringIO,
    channel: aio.Channel,
) -> None:
    issuer = ApiKeyIssuer.from_settings(settings, api_keys)
    issued = await issuer.issue(f"client-{uuid4().hex[:12]}", [READ])
    forged = with_secret(issued.key, "0" * 32)

    await use_the_api(channel, [issued.key, forged])

    assert_no_key_in(service_log.getvalue(), issued, forged)
