"""The ``deliver`` worker's metrics: outcomes, attempts, latency, and the backlog per endpoint."""

from prometheus_client import Counter, Gauge, Histogram

from {{ cookiecutter.package_name }}.observability.metrics import LATENCY_BUCKETS

WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries",
    "Deliveries settled by this worker, by outcome (succeeded, failed: given up or endpoint gone).",
    ["outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "webhook_delivery_attempts",
    "Delivery attempts, by result (2xx, 3xx, 4xx, 5xx, timeout, connection_error, "
    "refused, circuit_open).",
    ["result"],
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "webhook_delivery_attempt_seconds",
    "Time of one delivery attempt, from signing to the end of the response.",
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "webhook_endpoints_disabled",
    "Endpoints the worker disabled, by reason (gone: a 410; failing: too many failures).",
    ["reason"],
)
WEBHOOK_PENDING = Gauge(
    "webhook_pending_deliveries", "Deliveries still to make, per endpoint.", ["endpoint"]
)
WEBHOOK_OLDEST_DUE_AGE = Gauge(
    "webhook_oldest_due_delivery_age_seconds",
    "How long the most overdue delivery of an endpoint has been due.",
    ["endpoint"],
)
