"""The one error taxonomy as gRPC statuses with ``google.rpc.Status`` details (AIP-193).

Every error carries an ``ErrorInfo`` whose ``reason`` is the REST error code in
upper case (``version_mismatch`` is ``VERSION_MISMATCH``), a ``BadRequest`` with
one violation per invalid field when there are any, a ``QuotaFailure`` when a
rate limit refused the call, and a ``RetryInfo`` where REST would send ``Retry-After``.
"""

import math
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from {{ cookiecutter.package_name }}.auth.errors import RateLimitedError
from {{ cookiecutter.package_name }}.auth.rate_limits import Quota
from {{ cookiecutter.package_name }}.domain.errors import ErrorKind, ServiceError, ServiceUnavailableError

STATUS_DETAILS_KEY = "grpc-status-details-bin"
ERROR_DOMAIN = "{{ cookiecutter.project_slug }}"

# Why these codes: INVALID_ARGUMENT for anything wrong with the request itself;
# ABORTED for conflicts a client resolves by re-reading and retrying (a stale etag,
# AIP-154; a concurrent writer; an idempotency key still in flight); FAILED_PRECONDITION
# when the resource's state forbids the change and retrying cannot help.
GRPC_STATUS: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.CONFLICT: grpc.StatusCode.ABORTED,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.STALE_VERSION: grpc.StatusCode.ABORTED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}

_RETRY_DELAY_SECONDS: dict[ErrorKind, int] = {ErrorKind.UNAVAILABLE: 5, ErrorKind.CONFLICT: 1}

INTERNAL_ERROR = ServiceError(ErrorKind.INTERNAL, "internal_error", "An unexpected error occurred.")


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


@dataclass(frozen=True, slots=True)
class RichStatus(grpc.Status):
    """A status for ``context.abort_with_status``: code, message and trailing metadata."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def _retry_delay(error: ServiceError) -> int | None:
    if isinstance(error, RateLimitedError):
        return error.quota.reset_seconds
    if isinstance(error, ServiceUnavailableError) and error.retry_after_seconds is not None:
        return max(math.ceil(error.retry_after_seconds), 1)
    return _RETRY_DELAY_SECONDS.get(error.kind)


def _quota_failure(quota: Quota) -> error_details_pb2.QuotaFailure:
    violation = error_details_pb2.QuotaFailure.Violation(
        subject=quota.policy,
        description=f"{quota.limit} calls per {quota.window_seconds} seconds",
    )
    return error_details_pb2.QuotaFailure(violations=[violation])


def rich_status(error: ServiceError, *metadata: tuple[str, str]) -> RichStatus:
    """The status a client receives for ``error``, with ``metadata`` added to the trailers."""
    code = GRPC_STATUS[error.kind]
    info = error_details_pb2.ErrorInfo(reason=error.code.upper(), domain=ERROR_DOMAIN)
    details = [_packed(info)]
    if error.details:
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=d.field, description=d.message)
            for d in error.details
        ]
        details.append(_packed(error_details_pb2.BadRequest(field_violations=violations)))
    if isinstance(error, RateLimitedError):
        details.append(_packed(_quota_failure(error.quota)))
    if (delay := _retry_delay(error)) is not None:
        retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=delay))
        details.append(_packed(retry))
    status = status_pb2.Status(code=code.value[0], message=error.message, details=details)
    return RichStatus(
        code=code,
        details=error.message,
        trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()), *metadata),
    )
