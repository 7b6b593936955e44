"""W3C Trace Context across the service's hops: requests in, events out, events in.

The OpenTelemetry API does the parsing and formatting; without an SDK it
records no spans, but the context still travels, so a trace started by a
caller continues through the outbox, the broker and the consumer.
"""

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
# The header (metadata) names of W3C Trace Context, lowercase as HTTP/2 and gRPC send them.
TRACE_HEADERS = ("traceparent", "tracestate")


@contextmanager
def continued_trace(carrier: Mapping[str, str]) -> Iterator[None]:
    """Make the trace in ``carrier`` (``traceparent``, ``tracestate``) current, if valid."""
    token = context.attach(_PROPAGATOR.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


def trace_headers() -> dict[str, str]:
    """The current trace as headers; a new sampled trace when there is none."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    if "traceparent" not in carrier:
        root = SpanContext(
            trace_id=int.from_bytes(secrets.token_bytes(16)) or 1,
            span_id=int.from_bytes(secrets.token_bytes(8)) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(NonRecordingSpan(root)))
    return carrier


def log_fields(carrier: Mapping[str, str]) -> dict[str, str]:
    """``trace_id`` for log lines, if ``carrier`` holds a valid trace; else nothing."""
    if "traceparent" not in carrier:
        return {}
    span_context = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    return {"trace_id": format(span_context.trace_id, "032x")} if span_context.is_valid else {}
