"""Calls to other systems: attempts, retries, outcomes and circuit states, per downstream."""

from prometheus_client import Counter, Gauge, Histogram

from {{ cookiecutter.package_name }}.observability.metrics import LATENCY_BUCKETS

DOWNSTREAM_ATTEMPTS = Counter(
    "downstream_attempts",
    "Requests sent to a downstream, by result (2xx, 3xx, 4xx, 5xx, timeout, connection_error).",
    ["downstream", "result"],
)
DOWNSTREAM_RETRIES = Counter(
    "downstream_retries", "Requests sent again after a failure.", ["downstream"]
)
DOWNSTREAM_CALLS = Counter(
    "downstream_calls",
    "Calls to a downstream, by outcome "
    "(success, rejected, unavailable, circuit_open, bulkhead_full, deadline_exceeded).",
    ["downstream", "outcome"],
)
DOWNSTREAM_CALL_SECONDS = Histogram(
    "downstream_call_seconds",
    "Time of a whole call to a downstream, its retries included.",
    ["downstream"],
    buckets=LATENCY_BUCKETS,
)
CIRCUIT_STATE = Gauge(
    "circuit_breaker_state",
    "A downstream's circuit as this process last saw it: 0 closed, 1 half-open, 2 open.",
    ["downstream"],
)
CIRCUIT_TRANSITIONS = Counter(
    "circuit_breaker_transitions",
    "Changes of a downstream's circuit made by this process.",
    ["downstream", "from_state", "to_state"],
)
