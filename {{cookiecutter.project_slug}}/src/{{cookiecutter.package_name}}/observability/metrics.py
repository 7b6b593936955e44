"""Prometheus metrics: what every process shares; each transport defines its own RED metrics.

Labels are bounded on purpose: a route template or RPC name, never a raw path.
"""

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

# Buckets in seconds, from a cached read to a request stuck behind a dependency timeout.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def metrics_response() -> Response:
    """Every metric of this process, in the Prometheus text format, for the scraper."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
