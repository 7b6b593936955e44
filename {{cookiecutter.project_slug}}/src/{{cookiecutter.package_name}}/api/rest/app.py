"""The FastAPI application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import metadata

from fastapi import FastAPI

from {{ cookiecutter.package_name }}.api.rest import inbound_webhooks, orders, probes, webhook_endpoints
from {{ cookiecutter.package_name }}.api.rest.errors import install_error_handlers
from {{ cookiecutter.package_name }}.api.rest.middleware import RequestContextMiddleware
from {{ cookiecutter.package_name }}.container import build_container
from {{ cookiecutter.package_name }}.observability.logging import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings, get_settings

DISTRIBUTION = "{{ cookiecutter.project_slug }}"
TITLE = "{{ cookiecutter.project_name }}"
ROUTERS = (probes.router, orders.router, inbound_webhooks.router, webhook_endpoints.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; connections open in the lifespan, not at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_container(settings) as container:
            app.state.container = container
            yield

    app = FastAPI(
        title=TITLE,
        description=metadata(DISTRIBUTION)["Summary"],
        version=metadata(DISTRIBUTION)["Version"],
        lifespan=lifespan,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app, ROUTERS)
    app.add_middleware(RequestContextMiddleware, log_requests=settings.log_requests)
    return app


def serve_app() -> FastAPI:
    """Entry point for ``uvicorn --factory``: logging first, then the app."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
