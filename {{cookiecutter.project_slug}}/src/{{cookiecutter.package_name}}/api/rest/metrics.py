"""``/metrics`` in the Prometheus text format, for the scraper, not for API clients."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics() -> Response:
    """Every metric of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
