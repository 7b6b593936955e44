"""Prometheus metrics: the RED signals (rate, errors, duration) of every entry point.

Labels are bounded on purpose: a route template or RPC name, never a raw path.
"""

from prometheus_client import Counter, {% if cookiecutter.queue != "none" %}Gauge, {% endif %}Histogram

# Buckets in seconds, from a cached read to a request stuck behind a dependency timeout.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

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

GRPC_HANDLED = Counter(
    "grpc_server_handled",
    "RPCs completed on the server, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time from receiving an RPC to sending its status.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
{%- if cookiecutter.queue != "none" %}

OUTBOX_PUBLISHED = Counter(
    "outbox_events_published", "Outbox events the broker confirmed, by event type.", ["type"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures", "Relay rounds whose publish failed (the events stay queued)."
)
OUTBOX_PENDING = Gauge("outbox_pending_events", "Events in the outbox, not yet confirmed.")
OUTBOX_LAG = Gauge(
    "outbox_oldest_event_age_seconds", "Age of the oldest unpublished event: the relay's lag."
)

CONSUMER_MESSAGES = Counter(
    "consumer_messages",
    "Messages settled by the event consumer, by outcome "
    "(handled, duplicate, ignored, retried, dead_lettered).",
    ["outcome"],
)
CONSUMER_LATENCY = Histogram(
    "consumer_handling_seconds",
    "Time from receiving a message to settling it.",
    buckets=LATENCY_BUCKETS,
)
{%- endif %}
