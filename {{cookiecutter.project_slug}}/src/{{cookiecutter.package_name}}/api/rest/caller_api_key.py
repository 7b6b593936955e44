"""API keys on REST: how a caller presents one and how the OpenAPI document shows it."""

from typing import Annotated

from fastapi import Request, Security
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.security.base import SecurityBase

from {{ cookiecutter.package_name }}.auth.credentials import API_KEY_HEADER, Credentials, extract_credentials

# How an operator makes a key, as the OpenAPI document tells callers.
CREATE_KEY_COMMAND = "{{ cookiecutter.project_slug }} api-keys create"
# The refusals every guarded route documents, besides the errors of every mode.
FAILURE_RESPONSES: dict[int, str] = {
    401: "Missing or invalid credentials; see WWW-Authenticate",
    403: "The credentials lack the permission this call needs",
}


class CallerCredentials(SecurityBase):
    """The credentials a request carries, read as every transport reads them."""

    def __init__(self) -> None:
        self.model = APIKey(
            **{"in": APIKeyIn.header},
            name=API_KEY_HEADER,
            description=f"An API key from `{CREATE_KEY_COMMAND}`.",
        )
        self.scheme_name = "ApiKey"

    async def __call__(self, request: Request) -> Credentials | None:
        """The API key header, or ``Authorization: Bearer …``, if present."""
        return extract_credentials(
            request.headers.get("Authorization"), request.headers.get(API_KEY_HEADER)
        )


Caller = Annotated[Credentials | None, Security(CallerCredentials())]
