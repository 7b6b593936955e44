"""The RED signals (rate, errors, duration) of the gRPC API, by service and method."""

from prometheus_client import Counter, Histogram

from {{ cookiecutter.package_name }}.observability.metrics import LATENCY_BUCKETS

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
