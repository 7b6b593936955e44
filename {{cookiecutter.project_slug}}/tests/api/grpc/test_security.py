"""The gRPC side of the guard: every RPC needs a permission, quotas hold, statuses are right.

Every auth mode gives these statuses. What depends on the mode lives beside this
file: ``test_authentication.py`` (modes that authenticate) and the attacks on the
mode's credentials (``test_<mode>.py``).
"""

import io
from uuid import uuid4

import grpc
import pytest

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient
from {{ cookiecutter.package_name }}.api.grpc.security import METHOD_PERMISSIONS, peer_address
from {{ cookiecutter.package_name }}.api.grpc.server import MAX_METADATA_BYTES
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2
from tests.api.grpc.calls import details_of, new_order
from tests.api.grpc.guarded import channel_to, failure
from tests.support import access
from tests.support.access import Grant


def test_every_rpc_of_the_{{ cookiecutter.package_name }}_has_a_permission() -> None:
    services = [
        orders_pb2.DESCRIPTOR.services_by_name["OrdersService"],
        webhooks_pb2.DESCRIPTOR.services_by_name["WebhookEndpointsService"],
    ]
    methods = {
        f"/{service.full_name}/{method.name}" for service in services for method in service.methods
    }

    assert set(METHOD_PERMISSIONS) == methods


def test_every_webhook_endpoints_rpc_needs_webhooks_manage() -> None:
    service = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookEndpointsService"]

    assert {
        METHOD_PERMISSIONS[f"/{service.full_name}/{method.name}"] for method in service.methods
    } == {Permission.WEBHOOKS_MANAGE}


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


@pytest.mark.usefixtures("one_rate_window")
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

    # Without credentials (auth=none) every call is counted per address.
    policy = "per-ip" if caller is None else "per-caller"
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.reason == "RATE_LIMITED"
    assert error.quota_violations == {policy: "2 calls per 60 seconds"}
    assert error.retry_delay_seconds is not None
    assert 1 <= error.retry_delay_seconds <= 60


async def test_metadata_beyond_the_limit_is_refused_before_the_guard_reads_it(
    client: OrdersClient, service_log: io.StringIO
) -> None:
    huge = (("authorization", f"Bearer {'A' * 97_000}"),)

    error = await failure(client.stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=huge))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "authentication_failed" not in service_log.getvalue()
    assert "A" * MAX_METADATA_BYTES not in service_log.getvalue()  # nothing quotes it
