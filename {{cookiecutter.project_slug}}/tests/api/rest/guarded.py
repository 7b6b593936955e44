"""What the REST tests of the guard share: an order to place and an app of their own."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

ORDER = {
    "customer_id": "guarded",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 100}],
}


@asynccontextmanager
async def client_of(
    settings: Settings, headers: dict[str, str] | None = None, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app on ``settings``, calling from ``address``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(address, 50_000)
        )
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as http:
            yield http


def quota(response: httpx.Response) -> dict[str, str]:
    """The parameters of the ``RateLimit`` header: ``{"r": "41", "t": "60"}``."""
    _, *parameters = response.headers["RateLimit"].split(";")
    return dict(parameter.split("=") for parameter in parameters)
