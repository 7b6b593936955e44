"""Every error leaves as the one envelope, with the status its kind maps to."""

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from {{ cookiecutter.package_name }}.api.envelope import HTTP_STATUS, error_response, retry_after_headers
from {{ cookiecutter.package_name }}.api.rest.caller import FAILURE_RESPONSES
from {{ cookiecutter.package_name }}.api.rest.headers import rate_limit_headers
from {{ cookiecutter.package_name }}.api.rest.middleware import MAX_HEADER_BYTES, MAX_TARGET_BYTES
from {{ cookiecutter.package_name }}.api.rest.schemas import ErrorEnvelope
from {{ cookiecutter.package_name }}.auth.errors import PermissionDeniedError, RateLimitedError, UnauthenticatedError
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, ServiceError

_HTTP_CODES: dict[int, str] = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

# The errors of every auth mode; the mode's caller module adds its refusals (401, 403).
_DOCUMENTED_ERRORS: dict[int, str] = {
    400: "Malformed request",
    404: "Not found",
    409: "Conflict with the resource's state or a concurrent request",
    412: "The If-Match version is not the current one",
    414: f"The request target exceeds {MAX_TARGET_BYTES} bytes",
    422: "Validation failed",
    429: "Too many requests; retry after the Retry-After delay",
    431: f"The request headers exceed {MAX_HEADER_BYTES} bytes",
    500: "Unexpected error",
    503: "A dependency is unavailable; retry after the Retry-After delay",
}

# Every error response the API documents, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in sorted((_DOCUMENTED_ERRORS | FAILURE_RESPONSES).items())
}


REALM = "{{ cookiecutter.project_slug }}"


def _headers(error: ServiceError) -> dict[str, str]:
    """The challenge of RFC 6750 on 401 and 403, the quota and ``Retry-After`` on 429."""
    match error:
        case UnauthenticatedError(scheme=scheme, invalid=invalid):
            problem = ', error="invalid_token"' if invalid else ""
            return {"WWW-Authenticate": f'{scheme} realm="{REALM}"{problem}'}
        case PermissionDeniedError(scheme=scheme, permission=permission):
            challenge = f'realm="{REALM}", error="insufficient_scope", scope="{permission.value}"'
            return {"WWW-Authenticate": f"{scheme} {challenge}"}
        case RateLimitedError(quota=quota):
            return {**rate_limit_headers(quota), "Retry-After": str(quota.reset_seconds)}
    return retry_after_headers(error)


def _service_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)  # noqa: S101 - registered for ServiceError only
    return error_response(
        HTTP_STATUS[error.kind], error.code, error.message, error.details, _headers(error)
    )


def field_path(location: Sequence[int | str]) -> str:
    """``("body", "lines", 0, "sku")`` becomes ``lines[0].sku``; parameters keep their name."""
    path = ""
    for part in location[1:] or location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)  # noqa: S101 - registered for it only
    problems = error.errors()
    if any(problem["type"] == "json_invalid" for problem in problems):
        return error_response(400, "malformed_request", "The request body is not valid JSON.")
    details = [
        FieldViolation(field_path(problem["loc"]) or "body", problem["msg"]) for problem in problems
    ]
    return error_response(422, "validation_failed", "The request is not valid.", details)


class MethodsByPath:
    """Which methods the app serves at a path, for the ``Allow`` header of a 405.

    A resource's methods are separate routes, and Starlette names only those of
    the first route whose path matched; RFC 9110 wants every one. Where a
    concrete path and a templated one both match (``.../deliveries/replay`` and
    ``.../deliveries/{delivery_id}``), the concrete one is the resource, as
    OpenAPI reads its paths.
    """

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = [
            (route.path_regex, _literal_segments(route.path), route.methods or set())
            for route in routes
            if isinstance(route, Route)
        ]

    def at(self, path: str) -> str:
        """The methods served at ``path``, as the ``Allow`` header lists them."""
        matching = [
            (literal, methods) for pattern, literal, methods in self._routes if pattern.match(path)
        ]
        most_specific = max((literal for literal, _ in matching), default=0)
        served = {
            method
            for literal, methods in matching
            if literal == most_specific
            for method in methods
        }
        return ", ".join(sorted(served))


def _literal_segments(template: str) -> int:
    return sum(1 for segment in template.split("/") if segment and "{" not in segment)


def _http_error(served: MethodsByPath, request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)  # noqa: S101 - registered for it only
    code = _HTTP_CODES.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = served.at(request.url.path)
    return error_response(error.status_code, code, str(error.detail), headers=headers)


def install_error_handlers(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Map every handled failure to the envelope (unhandled ones: see middleware)."""
    served = MethodsByPath([*app.router.routes, *(r for router in routers for r in router.routes)])
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, partial(_http_error, served))
