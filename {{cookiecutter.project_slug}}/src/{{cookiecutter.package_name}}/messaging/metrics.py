"""The outbox relay's and the event consumer's metrics: throughput, failures, backlog, lag."""

from prometheus_client import Counter, Gauge, Histogram

from {{ cookiecutter.package_name }}.observability.metrics import LATENCY_BUCKETS

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
CONSUMER_DELAYS = Counter(
    "consumer_delays",
    "Waits of the event consumer holding a message while a dependency it needs "
    "(database, downstream, open circuit) is unavailable; no delivery attempt is spent.",
)
CONSUMER_HOLDING = Gauge(
    "consumer_holding_message",
    "1 while the event consumer holds a message for an unavailable dependency "
    "(from the first failure until the message is settled).",
)
CONSUMER_LATENCY = Histogram(
    "consumer_handling_seconds",
    "Time from receiving a message to settling it.",
    buckets=LATENCY_BUCKETS,
)
