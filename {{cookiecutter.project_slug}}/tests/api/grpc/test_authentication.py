"""The gRPC guard of a service that authenticates its callers (jwt, oauth2, api_key).

Every mode must give these statuses: the attacks on each kind of credential
live beside it (``test_jwt.py``, ``test_oauth2.py``, ``test_api_keys.py``).
"""

from uuid import uuid4

import grpc

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from tests.api.grpc.calls import details_of, new_order
from tests.api.grpc.guarded import channel_to, failure
from tests.support import access
from tests.support.access import Grant


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


async def test_an_idempotency_key_belongs_to_the_caller_that_sent_it(
    settings: Settings, grant: Grant
) -> None:
    first = await grant(*Permission, subject=f"first-{uuid4().hex[:8]}")
    second = await grant(*Permission, subject=f"second-{uuid4().hex[:8]}")
    key = str(uuid4())
    async with channel_to(settings) as channel:
        mine = OrdersClient(channel, metadata=access.metadata(first))
        theirs = OrdersClient(channel, metadata=access.metadata(second))
        placed = await mine.create_order(new_order("scoped"), idempotency_key=key)
        same_key = await theirs.create_order(new_order("scoped"), idempotency_key=key)
        other_order = details_of(
            await failure(
                theirs.create_order(new_order("scoped", currency="USD"), idempotency_key=key)
            )
        )
        retried = await mine.create_order(new_order("scoped"), idempotency_key=key)

    assert same_key.id != placed.id
    assert other_order.reason == "IDEMPOTENCY_KEY_REUSED"  # the second caller's own key
    assert retried == placed


async def test_webhook_endpoints_need_webhooks_manage(settings: Settings, grant: Grant) -> None:
    orders_only = await grant(
        Permission.ORDERS_READ, Permission.ORDERS_WRITE, subject=f"orders-{uuid4().hex[:8]}"
    )
    manager = await grant(Permission.WEBHOOKS_MANAGE, subject=f"manager-{uuid4().hex[:8]}")
    request = webhooks_pb2.ListWebhookEndpointsRequest(page_size=1)
    async with channel_to(settings) as channel:
        stub = webhooks_pb2_grpc.WebhookEndpointsServiceStub(channel)
        denied = details_of(
            await failure(stub.ListWebhookEndpoints(request, metadata=access.metadata(orders_only)))
        )
        listed = await stub.ListWebhookEndpoints(request, metadata=access.metadata(manager))
        orders = details_of(
            await failure(
                OrdersClient(channel, metadata=access.metadata(manager)).get_order(str(uuid4()))
            )
        )

    assert denied.code == grpc.StatusCode.PERMISSION_DENIED
    assert listed is not None
    assert orders.code == grpc.StatusCode.PERMISSION_DENIED
