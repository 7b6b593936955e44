"""Request-scoped access to the process's long-lived objects."""

from typing import Annotated, cast

from fastapi import Depends, Request

from {{ cookiecutter.package_name }}.application.orders import OrderService
from {{ cookiecutter.package_name }}.container import Container


async def container(request: Request) -> Container:
    """The container the app's lifespan built (async, so no threadpool hop)."""
    return cast("Container", request.app.state.container)


async def order_service(request: Request) -> OrderService:
    """The orders use cases."""
    return (await container(request)).orders


Orders = Annotated[OrderService, Depends(order_service)]
Services = Annotated[Container, Depends(container)]
