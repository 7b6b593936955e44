"""Probes: liveness says the process runs, readiness says it can serve."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from {{ cookiecutter.package_name }}.api.rest.dependencies import Services
from {{ cookiecutter.package_name }}.api.rest.schemas import Health
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError

router = APIRouter(tags=["health"])

READINESS_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def liveness() -> Health:
    """The process answers; restart it if this fails. Checks no dependency, on purpose."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready; a check failed"}},
)
async def readiness(services: Services) -> JSONResponse:
    """Every dependency answers; take the instance out of rotation if this fails."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await services.storage.ping()
    except (ServiceUnavailableError, TimeoutError):
        body = Health(status="unavailable", checks={"database": "unavailable"})
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ready", checks={"database": "ok"}).model_dump())
