"""Request-scoped access to the process's long-lived objects."""

from typing import Annotated, cast

from fastapi import Depends, Request

from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.application.webhook_endpoints import WebhookEndpointService
from {{ cookiecutter.package_name }}.container import Container


async def container(request: Request) -> Container:
    """The container the app's lifespan built (async, so no threadpool hop)."""
    return cast("Container", request.app.state.container)


async def order_service(request: Request) -> OrderService:
    """The orders use cases."""
    return (await container(request)).orders


async def webhook_endpoint_service(request: Request) -> WebhookEndpointService:
    """The webhook endpoints use cases."""
    return (await container(request)).webhook_endpoints


Orders = Annotated[OrderService, Depends(order_service)]
WebhookEndpoints = Annotated[WebhookEndpointService, Depends(webhook_endpoint_service)]
Services = Annotated[Container, Depends(container)]
