"""The one error taxonomy that every transport maps to its own status codes.

An error carries a kind (how a client should react), a stable machine code and
a human message; the REST and gRPC layers translate the kind, never the class.
"""

from dataclasses import dataclass, field
from enum import Enum, auto


class ErrorKind(Enum):
    """What went wrong, from the caller's point of view."""

    MALFORMED = auto()
    UNAUTHENTICATED = auto()
    PERMISSION_DENIED = auto()
    RATE_LIMITED = auto()
    INVALID = auto()
    NOT_FOUND = auto()
    ALREADY_EXISTS = auto()
    CONFLICT = auto()
    FAILED_PRECONDITION = auto()
    STALE_VERSION = auto()
    UNAVAILABLE = auto()
    INTERNAL = auto()


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field, named by its path in the request (``lines[0].sku``)."""

    field: str
    message: str


@dataclass(eq=False)
class ServiceError(Exception):
    """Base of every error a caller may see."""

    kind: ErrorKind
    code: str
    message: str
    details: tuple[FieldViolation, ...] = field(default=())

    def __post_init__(self) -> None:
        super().__init__(self.message)


class MalformedRequestError(ServiceError):
    """The request cannot be parsed (bad JSON, bad header, foreign cursor)."""

    def __init__(self, message: str, *details: FieldViolation) -> None:
        super().__init__(ErrorKind.MALFORMED, "malformed_request", message, details)


class ValidationFailedError(ServiceError):
    """The request parses but breaks the documented constraints."""

    def __init__(self, *details: FieldViolation) -> None:
        super().__init__(
            ErrorKind.INVALID, "validation_failed", "The request is not valid.", details
        )


class NotFoundError(ServiceError):
    """The addressed resource does not exist (or no longer does)."""

    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(ErrorKind.NOT_FOUND, "not_found", f"{resource} {identifier} not found.")


class InvalidStateTransitionError(ServiceError):
    """The resource's current state forbids the requested change."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.FAILED_PRECONDITION, "invalid_state_transition", message)


class StaleVersionError(ServiceError):
    """The caller's version (ETag) is not the current one: re-read and retry."""

    def __init__(self, current_version: int) -> None:
        super().__init__(
            ErrorKind.STALE_VERSION,
            "version_mismatch",
            f"The resource has changed; its current version is {current_version}.",
        )


class ConcurrentModificationError(ServiceError):
    """Other writers kept changing the resource; the caller may retry."""

    def __init__(self) -> None:
        super().__init__(
            ErrorKind.CONFLICT,
            "concurrent_modification",
            "The resource is being changed by others; retry the request.",
        )


class IdempotencyKeyInUseError(ServiceError):
    """A request with the same idempotency key is still being processed."""

    def __init__(self) -> None:
        super().__init__(
            ErrorKind.CONFLICT,
            "idempotency_key_in_use",
            "A request with this idempotency key is in progress; retry later.",
        )


class IdempotencyKeyReusedError(ServiceError):
    """The idempotency key was already used for a different request."""

    def __init__(self) -> None:
        super().__init__(
            ErrorKind.INVALID,
            "idempotency_key_reused",
            "This idempotency key was used with a different request payload.",
        )


class AlreadyExistsError(ServiceError):
    """A unique constraint rejected the write."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.ALREADY_EXISTS, "already_exists", message)


class ServiceUnavailableError(ServiceError):
    """A dependency (database, broker, downstream) cannot be reached; retry later.

    ``retry_after_seconds``, when known (a circuit's cool-down, a downstream's
    ``Retry-After``), tells callers when trying again can succeed.
    """

    def __init__(self, dependency: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(
            ErrorKind.UNAVAILABLE,
            "service_unavailable",
            f"The {dependency} is unavailable; retry later.",
        )
        self.retry_after_seconds = retry_after_seconds
