"""The RED signals (rate, errors, duration) of the HTTP API, by route template."""

from prometheus_client import Counter, Histogram

from {{ cookiecutter.package_name }}.observability.metrics import LATENCY_BUCKETS

HTTP_REQUESTS = Counter(
    "http_server_requests",
    "HTTP requests handled, by route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_server_request_duration_seconds",
    "Time from request start to the last byte of the response.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
