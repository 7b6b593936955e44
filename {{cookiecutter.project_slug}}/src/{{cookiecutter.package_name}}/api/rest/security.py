"""The REST side of the guard: read the credentials, name the permission, report the quota.

Each route declares the permission it needs with ``dependencies=[allowed(...)]``;
the guard decides.{% if cookiecutter.auth != "none" %} The credentials dependency also documents the security
scheme in the OpenAPI document.{% else %} Authentication is a gateway's job here, so the guard only
counts calls per client address.{% endif %}
"""
{%- if cookiecutter.auth != "none" %}

from typing import Annotated
{%- endif %}

from fastapi import Request, Response, {% if cookiecutter.auth != "none" %}Security, {% endif %}params
{%- if cookiecutter.auth == "api_key" %}
from fastapi.openapi.models import APIKey, APIKeyIn
{%- elif cookiecutter.auth != "none" %}
from fastapi.openapi.models import HTTPBearer
{%- endif %}
{%- if cookiecutter.auth != "none" %}
from fastapi.security.base import SecurityBase
{%- endif %}

from {{ cookiecutter.package_name }}.api.rest.dependencies import Services
from {{ cookiecutter.package_name }}.api.rest.headers import rate_limit_headers
{%- if cookiecutter.auth != "none" %}
from {{ cookiecutter.package_name }}.auth.credentials import API_KEY_HEADER, Credentials, extract_credentials
{%- endif %}
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal
{%- if cookiecutter.auth != "none" %}


class CallerCredentials(SecurityBase):
    """The credentials a request carries, read as every transport reads them."""

    def __init__(self) -> None:
{%- if cookiecutter.auth == "api_key" %}
        self.model = APIKey(
            **{"in": APIKeyIn.header},
            name=API_KEY_HEADER,
            description="An API key from `{{ cookiecutter.project_slug }} api-keys create`.",
        )
        self.scheme_name = "ApiKey"
{%- else %}
        self.model = HTTPBearer(
            bearerFormat="JWT", description="An access token: `Authorization: Bearer <token>`."
        )
        self.scheme_name = "BearerToken"
{%- endif %}

    async def __call__(self, request: Request) -> Credentials | None:
        """``Authorization: Bearer …`` or the API key header, if present."""
        return extract_credentials(
            request.headers.get("Authorization"), request.headers.get(API_KEY_HEADER)
        )


Caller = Annotated[Credentials | None, Security(CallerCredentials())]
{%- endif %}


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves trusted ``X-Forwarded-For`` before this)."""
    return request.client.host if request.client is not None else "unknown"


def allowed(permission: Permission) -> params.Depends:
    """A route dependency that admits the call or raises the error that refuses it."""

    async def admit(
{%- if cookiecutter.auth != "none" %}
        request: Request, response: Response, services: Services, credentials: Caller
{%- else %}
        request: Request, response: Response, services: Services
{%- endif %}
    ) -> Principal:
        admission = await services.guard.admit(
            {{ "None" if cookiecutter.auth == "none" else "credentials" }}, permission, client_address(request)
        )
        if admission.quota is not None:
            response.headers.update(rate_limit_headers(admission.quota))
        return admission.principal

    return params.Depends(admit)
