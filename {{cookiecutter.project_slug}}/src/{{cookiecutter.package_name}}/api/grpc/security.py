"""The gRPC side of the guard: one permission per RPC, credentials from call metadata.

Deny by default: a method of a service this table does not list as open, and
that has no permission here, is refused. Health and reflection stay open, as
load balancers and tools call them without credentials.
"""

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, cast

import grpc
from grpc import aio
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from {{ cookiecutter.package_name }}.api.grpc.interceptors import Behavior, Context, Continuation, metadata_value
from {{ cookiecutter.package_name }}.auth.credentials import API_KEY_HEADER, extract_credentials
from {{ cookiecutter.package_name }}.auth.guard import Guard
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal
from {{ cookiecutter.package_name }}.domain.errors import ErrorKind, ServiceError
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2

_ORDERS = orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name
_WEBHOOK_ENDPOINTS = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookEndpointsService"]

METHOD_PERMISSIONS: Mapping[str, Permission] = {
    f"/{_ORDERS}/CreateOrder": Permission.ORDERS_WRITE,
    f"/{_ORDERS}/GetOrder": Permission.ORDERS_READ,
    f"/{_ORDERS}/ListOrders": Permission.ORDERS_READ,
    f"/{_ORDERS}/UpdateOrder": Permission.ORDERS_WRITE,
    f"/{_ORDERS}/DeleteOrder": Permission.ORDERS_WRITE,
} | {
    f"/{_WEBHOOK_ENDPOINTS.full_name}/{method.name}": Permission.WEBHOOKS_MANAGE
    for method in _WEBHOOK_ENDPOINTS.methods
}
OPEN_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})
_API_KEY_METADATA = API_KEY_HEADER.lower()
# The caller the guard admitted, for the handler of the call it admitted.
CALLER: ContextVar[Principal] = ContextVar("caller")
UNLISTED_METHOD = ServiceError(
    ErrorKind.PERMISSION_DENIED, "permission_denied", "This method is not open to any caller."
)


def _service(method: str) -> str:
    return method.lstrip("/").rpartition("/")[0]


def peer_address(peer: str) -> str:
    """The address part of ``ipv4:10.0.0.1:5000`` or ``ipv6:[::1]:5000`` (else the whole peer)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return peer


class GuardInterceptor(aio.ServerInterceptor):
    """Admit each unary call through the guard before its handler runs.

    Registered after the request-context interceptor, so a refusal is logged,
    counted and turned into its status like any other service error.
    """

    def __init__(
        self, guard: Guard, permissions: Mapping[str, Permission] = METHOD_PERMISSIONS
    ) -> None:
        self._guard = guard
        self._permissions = permissions

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> "grpc.RpcMethodHandler[Any, Any] | None":
        """Wrap every unary method that is not open; streaming methods of open services pass."""
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or _service(method) in OPEN_SERVICES:
            return handler
        permission = self._permissions.get(method)
        if handler.unary_unary is None:
            message = f"{method} is not unary: give it its own admission before serving it"
            raise TypeError(message)
        behavior = cast("Behavior", handler.unary_unary)

        async def admitted(request: object, context: Context) -> object:
            if permission is None:
                raise UNLISTED_METHOD
            credentials = extract_credentials(
                metadata_value(context, "authorization"), metadata_value(context, _API_KEY_METADATA)
            )
            admission = await self._guard.admit(
                credentials, permission, peer_address(context.peer())
            )
            admitted_as = CALLER.set(admission.principal)
            try:
                return await behavior(request, context)
            finally:
                CALLER.reset(admitted_as)

        return grpc.unary_unary_rpc_method_handler(
            admitted,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
