"""OAuth 2.0 access tokens through the gRPC API: UNAUTHENTICATED, PERMISSION_DENIED, an outage."""

import asyncio
import signal

import grpc
import pytest
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient, open_channel
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from tests.api.grpc.calls import new_order
from tests.support import access
from tests.support.access import bearer
from tests.support.issuer import LocalIssuer
from tests.support.oauth2_tokens import FORGERIES, Forgery
from tests.support.processes import free_port, start_serving, wait_until_ready


def client_with(channel: aio.Channel, token: str | None) -> OrdersClient:
    return OrdersClient(channel, metadata=access.metadata(bearer(token) if token else None))


async def status_of(client: OrdersClient) -> grpc.StatusCode:
    try:
        await client.list_orders(orders_pb2.ListOrdersRequest())
    except aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_the_api_answers_unauthenticated_to_forged_tokens(
    channel: aio.Channel, issuer: LocalIssuer, forge: Forgery
) -> None:
    assert await status_of(client_with(channel, forge(issuer))) == grpc.StatusCode.UNAUTHENTICATED


async def test_the_api_answers_unauthenticated_to_a_call_without_a_token(
    channel: aio.Channel,
) -> None:
    assert await status_of(client_with(channel, None)) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_read_only_token_reads_but_may_not_write(
    channel: aio.Channel, issuer: LocalIssuer
) -> None:
    client = client_with(channel, issuer.access_token("reader", "orders:read"))

    assert await status_of(client) == grpc.StatusCode.OK
    with pytest.raises(aio.AioRpcError) as refused:
        await client.create_order(new_order("oauth2"))

    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_token_with_the_write_scope_places_an_order(
    channel: aio.Channel, issuer: LocalIssuer
) -> None:
    token = issuer.access_token("writer", "orders:write", key=issuer.key("ES256"))

    placed = await client_with(channel, token).create_order(new_order("oauth2"))

    assert placed.id


async def _statuses(target: str, tokens: list[str]) -> list[grpc.StatusCode]:
    async with open_channel(target) as channel:
        return [await status_of(client_with(channel, token)) for token in tokens]


def test_the_service_starts_while_the_issuer_is_down_and_answers_unavailable(
    database_settings: Settings, issuer: LocalIssuer
) -> None:
    nobody = database_settings.model_copy(
        update={"oauth2_issuer": f"http://127.0.0.1:{free_port()}"}
    )
    grpc_port, http_port = free_port(), free_port()
    process = start_serving(nobody, GRPC_PORT=str(grpc_port), HTTP_PORT=str(http_port))
    try:
        wait_until_ready(f"http://127.0.0.1:{http_port}", process)
        token = issuer.access_token("caller", "orders:read")
        statuses = asyncio.run(_statuses(f"127.0.0.1:{grpc_port}", [token]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)

    assert statuses == [grpc.StatusCode.UNAVAILABLE]


def test_tokens_never_reach_the_logs(database_settings: Settings, issuer: LocalIssuer) -> None:
    tokens = [forge(issuer) for forge in FORGERIES.values()]
    valid = issuer.access_token("caller", "orders:read")
    grpc_port, http_port = free_port(), free_port()
    process = start_serving(
        database_settings, GRPC_PORT=str(grpc_port), HTTP_PORT=str(http_port), LOG_LEVEL="DEBUG"
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{http_port}", process)
        statuses = asyncio.run(_statuses(f"127.0.0.1:{grpc_port}", [*tokens, valid]))
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert statuses == [grpc.StatusCode.UNAUTHENTICATED] * len(tokens) + [grpc.StatusCode.OK]
    assert b"authentication_failed" in output
    for token in [*tokens, valid]:
        for part in token.split("."):
            assert len(part) < 16 or part.encode() not in output
