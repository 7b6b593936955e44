"""JWT bearer tokens through the gRPC API: UNAUTHENTICATED, PERMISSION_DENIED, nothing logged."""

import io

import pytest
from grpc import StatusCode, aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.jwt import issue_token
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import new_order
from tests.support import access
from tests.support.access import bearer
from tests.support.jwt_tokens import INVALID_TOKENS, Token, signed, with_payload


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service logs every request here: no log line may hold a token either."""
    return settings.model_copy(update={"log_requests": True})


def caller(channel: aio.Channel, credentials: Credentials | None) -> OrdersClient:
    return OrdersClient(channel, metadata=access.metadata(credentials))


async def failure(call: object) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_a_valid_token_may_write_and_read(
    channel: aio.Channel, token_settings: Settings, customer_id: str
) -> None:
    client = caller(channel, bearer(issue_token(token_settings, "alice", Permission)))

    created = await client.create_order(new_order(customer_id))

    assert (await client.get_order(created.id)).id == created.id


async def test_no_token_is_unauthenticated(channel: aio.Channel) -> None:
    error = await failure(caller(channel, None).list_orders(orders_pb2.ListOrdersRequest()))

    assert error.code() == StatusCode.UNAUTHENTICATED
    assert error.details() == "This call needs credentials."


@pytest.mark.parametrize("make", INVALID_TOKENS.values(), ids=INVALID_TOKENS.keys())
async def test_an_invalid_token_is_unauthenticated(
    channel: aio.Channel, token_settings: Settings, make: Token
) -> None:
    client = caller(channel, bearer(make(token_settings)))

    error = await failure(client.list_orders(orders_pb2.ListOrdersRequest()))

    assert error.code() == StatusCode.UNAUTHENTICATED
    assert error.details() == "The credentials are not valid."


async def test_a_read_only_token_may_read_but_not_write(
    channel: aio.Channel, grant: access.Grant, customer_id: str
) -> None:
    client = caller(channel, await grant(Permission.ORDERS_READ))

    await client.list_orders(orders_pb2.ListOrdersRequest())
    error = await failure(client.create_order(new_order(customer_id)))

    assert error.code() == StatusCode.PERMISSION_DENIED
    assert "orders:write" in (error.details() or "")


async def test_tokens_never_reach_the_logs(
    channel: aio.Channel,
    token_settings: Settings,
    grant: access.Grant,
    customer_id: str,
    service_log: io.StringIO,
) -> None:
    tampered = with_payload(signed(token_settings), sub="root")
    read_only = await grant(Permission.ORDERS_READ)
    assert read_only is not None

    refused = await failure(
        caller(channel, bearer(tampered)).list_orders(orders_pb2.ListOrdersRequest())
    )
    denied = await failure(caller(channel, read_only).create_order(new_order(customer_id)))

    assert (refused.code(), denied.code()) == (
        StatusCode.UNAUTHENTICATED,
        StatusCode.PERMISSION_DENIED,
    )
    logged = service_log.getvalue()
    assert "authentication_failed" in logged
    assert "permission_denied" in logged
    for token in (tampered, read_only.secret):
        for part in token.split("."):
            assert part not in logged
