"""What the gRPC tests share: an order to place, and the details of a failed call."""

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc import aio
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.api.grpc.server import ORDERS_SERVICE
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.settings import Settings


def server_settings(settings: Settings, **changes: object) -> Settings:
    """``settings`` on a free loopback port, checking health often, draining quickly."""
    defaults = {
        "grpc_host": "127.0.0.1",
        "grpc_port": 0,
        "grpc_health_check_interval_seconds": 0.1,
        "grpc_graceful_shutdown_seconds": 2.0,
    }
    return settings.model_copy(update=defaults | changes)


def new_order(
    customer_id: str,
    *,
    currency: str = "EUR",
    lines: Sequence[orders_pb2.OrderLine] | None = None,
) -> orders_pb2.Order:
    """An order to place: two lines unless told otherwise."""
    if lines is None:
        lines = [
            orders_pb2.OrderLine(sku="SKU-1", quantity=2, unit_price_minor=1250),
            orders_pb2.OrderLine(sku="SKU-2", quantity=1, unit_price_minor=500),
        ]
    return orders_pb2.Order(customer_id=customer_id, currency=currency, lines=lines)


@dataclass(frozen=True)
class ErrorDetails:
    """What a client reads from a failed call: the status and its google.rpc details."""

    code: grpc.StatusCode
    message: str
    reason: str
    domain: str
    violations: dict[str, str]
    retry_delay_seconds: int | None
    quota_violations: dict[str, str]
    trailers: dict[str, str]


def details_of(error: aio.AioRpcError) -> ErrorDetails:
    """Unpack the google.rpc.Status a call failed with (it must carry an ErrorInfo)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no google.rpc.Status on {error.code()}: {error.details()}"
    info = error_details_pb2.ErrorInfo()
    bad_request = error_details_pb2.BadRequest()
    retry = error_details_pb2.RetryInfo()
    quota = error_details_pb2.QuotaFailure()
    reason = domain = ""
    violations: dict[str, str] = {}
    quota_violations: dict[str, str] = {}
    delay = None
    for detail in status.details:
        if detail.Unpack(info):
            reason, domain = info.reason, info.domain
        elif detail.Unpack(bad_request):
            violations |= {v.field: v.description for v in bad_request.field_violations}
        elif detail.Unpack(retry):
            delay = retry.retry_delay.seconds
        elif detail.Unpack(quota):
            quota_violations |= {v.subject: v.description for v in quota.violations}
    trailers = {
        key: value for key, value in error.trailing_metadata() or () if isinstance(value, str)
    }
    return ErrorDetails(
        code=error.code(),
        message=status.message,
        reason=reason,
        domain=domain,
        violations=violations,
        retry_delay_seconds=delay,
        quota_violations=quota_violations,
        trailers=trailers,
    )


def handled(method: str, code: str) -> float:
    """How many calls of ``method`` the server has answered with ``code``."""
    labels = {"grpc_service": ORDERS_SERVICE, "grpc_method": method, "grpc_code": code}
    return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0
