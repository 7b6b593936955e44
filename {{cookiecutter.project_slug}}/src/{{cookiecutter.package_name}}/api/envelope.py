"""The one error envelope, ``{"error": {"code", "message", "details"}}``, of every HTTP answer.

The REST API answers with it, and so does the HTTP port of a gRPC server (its
webhook route), so both build it here, with the status each kind of error maps to.
"""

import math
from collections.abc import Iterable, Mapping

from starlette.responses import JSONResponse

from {{ cookiecutter.package_name }}.domain.errors import (
    ErrorKind,
    FieldViolation,
    ServiceError,
    ServiceUnavailableError,
)

HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.PERMISSION_DENIED: 403,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FAILED_PRECONDITION: 409,
    ErrorKind.STALE_VERSION: 412,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}

_RETRY_AFTER_SECONDS: dict[ErrorKind, int] = {ErrorKind.UNAVAILABLE: 5, ErrorKind.CONFLICT: 1}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Iterable[FieldViolation] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error response."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": [{"field": d.field, "message": d.message} for d in details],
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def retry_after_headers(error: ServiceError) -> dict[str, str]:
    """``Retry-After`` for an error worth retrying: the dependency's own delay when known."""
    if isinstance(error, ServiceUnavailableError) and error.retry_after_seconds is not None:
        return {"Retry-After": str(max(math.ceil(error.retry_after_seconds), 1))}
    retry_after = _RETRY_AFTER_SECONDS.get(error.kind)
    return {"Retry-After": str(retry_after)} if retry_after is not None else {}


def service_error_response(error: ServiceError) -> JSONResponse:
    """The response for ``error``: its kind's status, with ``Retry-After`` where it helps."""
    return error_response(
        HTTP_STATUS[error.kind],
        error.code,
        error.message,
        error.details,
        retry_after_headers(error),
    )
