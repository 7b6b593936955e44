"""Probes and metrics on the API's own port, answered as every process answers them.

The routes only document themselves in the OpenAPI document (``/metrics`` is
for the scraper and stays out of it); ``observability`` holds what they answer.
"""

from functools import partial

from fastapi import APIRouter, Response

from {{ cookiecutter.package_name }}.api.rest.dependencies import Services
from {{ cookiecutter.package_name }}.api.rest.schemas import Health
from {{ cookiecutter.package_name }}.observability.health import (
    database_ready,
    liveness_response,
    readiness_response,
)
from {{ cookiecutter.package_name }}.observability.metrics import metrics_response

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def liveness() -> Response:
    """The process answers; restart it if this fails. Checks no dependency, on purpose."""
    return liveness_response()


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready; a check failed"}},
)
async def readiness(services: Services) -> Response:
    """Every dependency answers; take the instance out of rotation if this fails."""
    return await readiness_response({"database": partial(database_ready, services.storage)})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Every metric of this process."""
    return metrics_response()
