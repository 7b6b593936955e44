"""Credentials as each transport sends them, for tests that call the API as a caller would."""

from collections.abc import Awaitable
from typing import Protocol

from {{ cookiecutter.package_name }}.auth.credentials import API_KEY_HEADER, Credentials, CredentialScheme
from {{ cookiecutter.package_name }}.auth.principal import Permission


class Grant(Protocol):
    """Makes credentials that hold ``permissions`` (``None`` where no credentials are used)."""

    def __call__(
        self, *permissions: Permission, subject: str = ...
    ) -> Awaitable[Credentials | None]:
        """Credentials for ``subject`` with exactly ``permissions``."""
        ...


class ServiceCredentials(Protocol):
    """Whether an outbound request's ``Authorization`` header is this service's own credential.

    In the auth modes where the service calls others as itself (OAuth 2.0 client
    credentials), the header must hold a token the issuer signed for it; in the
    others, outbound requests carry none.
    """

    def __call__(self, authorization: str | None) -> Awaitable[bool]:
        """Check the header a downstream received."""
        ...


class PlaceOrders(Protocol):
    """Places orders through the API of a running ``serve`` process, as a caller would."""

    def __call__(self, customer_id: str, count: int) -> Awaitable[None]:
        """Place ``count`` orders for ``customer_id``, as a caller that may do everything."""
        ...


def headers(credentials: Credentials | None) -> dict[str, str]:
    """The HTTP headers that carry ``credentials``."""
    if credentials is None:
        return {}
    if credentials.scheme is CredentialScheme.API_KEY:
        return {API_KEY_HEADER: credentials.secret}
    return {"Authorization": f"{credentials.scheme} {credentials.secret}"}


def metadata(credentials: Credentials | None) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata that carries ``credentials`` (keys in lower case, as gRPC requires)."""
    return tuple((key.lower(), value) for key, value in headers(credentials).items())


def bearer(token: str) -> Credentials:
    """``token`` as a bearer token."""
    return Credentials(CredentialScheme.BEARER, token)
