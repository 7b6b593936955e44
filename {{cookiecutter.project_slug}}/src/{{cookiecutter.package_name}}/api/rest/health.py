"""Probes: liveness says the process runs, readiness says it can serve."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from {{ cookiecutter.package_name }}.api.rest.dependencies import Services
from {{ cookiecutter.package_name }}.api.rest.schemas import Health
from {{ cookiecutter.package_name }}.observability.health import database_ready

router = APIRouter(tags=["health"])


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
    if await database_ready(services.storage):
        return JSONResponse(Health(status="ready", checks={"database": "ok"}).model_dump())
    body = Health(status="unavailable", checks={"database": "unavailable"})
    return JSONResponse(body.model_dump(), status_code=503)
