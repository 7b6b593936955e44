"""How a call to another system failed, in the service's own error taxonomy.

``DownstreamUnavailableError`` (and its kinds) means "try later": the API
answers 503 with ``Retry-After`` (UNAVAILABLE with ``RetryInfo`` on gRPC) and a
worker delays the message instead of dead-lettering it. ``DownstreamRejectedError``
means the downstream refused this request for good: retrying cannot help.
"""

from {{ cookiecutter.package_name }}.domain.errors import ErrorKind, ServiceError, ServiceUnavailableError

# How much of a refusal's body an error keeps: enough to diagnose, never a whole page.
_BODY_EXCERPT_CHARS = 500


class DownstreamUnavailableError(ServiceUnavailableError):
    """The downstream failed, timed out or could not be reached; retry later."""

    def __init__(
        self, downstream: str, reason: str, *, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(f"{downstream} service", retry_after_seconds=retry_after_seconds)
        self.downstream = downstream
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.downstream}: {self.reason}"


class UnavailableAnswerError(DownstreamUnavailableError):
    """The downstream answered "try later" (a 429, a 5xx, ...): the answer is kept, to be shown."""

    def __init__(
        self,
        downstream: str,
        status_code: int,
        body: bytes,
        *,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(downstream, f"HTTP {status_code}", retry_after_seconds=retry_after_seconds)
        self.status_code = status_code
        self.body = body


class CircuitOpenError(DownstreamUnavailableError):
    """The downstream's circuit is open: refused at once, without a request."""

    def __init__(self, downstream: str, *, retry_after_seconds: float) -> None:
        super().__init__(downstream, "circuit open", retry_after_seconds=retry_after_seconds)


class DeadlineExceededError(DownstreamUnavailableError):
    """The call's deadline ran out (its retries included); not retried: no time is left."""

    def __init__(self, downstream: str) -> None:
        super().__init__(downstream, "deadline exceeded")


class BulkheadFullError(DownstreamUnavailableError):
    """Every connection to the downstream is busy, and none came free in time."""

    def __init__(self, downstream: str, connections: int) -> None:
        super().__init__(downstream, f"all {connections} connections busy")


class DownstreamRejectedError(ServiceError):
    """The downstream refused the request (a 4xx that no retry can change)."""

    def __init__(self, downstream: str, status_code: int, body: str) -> None:
        super().__init__(
            ErrorKind.INTERNAL,
            "downstream_rejected",
            f"The {downstream} refused the request.",
        )
        self.downstream = downstream
        self.status_code = status_code
        self.body = body[:_BODY_EXCERPT_CHARS]

    def __str__(self) -> str:
        return f"{self.downstream}: HTTP {self.status_code}: {self.body}"
