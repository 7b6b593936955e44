"""The REST side of the guard: read the credentials, name the permission, report the quota.

Each route declares the permission it needs with ``dependencies=[allowed(...)]``;
the guard decides. How a caller presents credentials, and how the OpenAPI
document shows it, is the auth mode's part (``caller.py``).
"""

from fastapi import Request, Response, params

from {{ cookiecutter.package_name }}.api.rest.caller import Caller
from {{ cookiecutter.package_name }}.api.rest.dependencies import Services
from {{ cookiecutter.package_name }}.api.rest.headers import rate_limit_headers
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves trusted ``X-Forwarded-For`` before this)."""
    return request.client.host if request.client is not None else "unknown"


def allowed(permission: Permission) -> params.Depends:
    """A route dependency that admits the call or raises the error that refuses it."""

    async def admit(
        request: Request, response: Response, services: Services, credentials: Caller
    ) -> Principal:
        admission = await services.guard.admit(credentials, permission, client_address(request))
        if admission.quota is not None:
            response.headers.update(rate_limit_headers(admission.quota))
        return admission.principal

    return params.Depends(admit)
