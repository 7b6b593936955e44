"""The one place that decides whether a call may proceed.

Transports only extract credentials and name the permission the call needs;
the guard authenticates, counts the call against the caller's quota, then
checks the permission. Calls without valid credentials are counted per client
address, so guessing keys or tokens runs into the anonymous quota.
"""

from dataclasses import dataclass

import structlog

from {{ cookiecutter.package_name }}.auth.credentials import Credentials, CredentialScheme
from {{ cookiecutter.package_name }}.auth.errors import (
    InvalidCredentialsError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
)
from {{ cookiecutter.package_name }}.auth.port import Authenticator
from {{ cookiecutter.package_name }}.auth.principal import TRUSTED_ANONYMOUS, Permission, Principal
from {{ cookiecutter.package_name }}.auth.rate_limits import Quota, RateLimiter

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    """A call let through: who made it and what is left of its quota (``None``: not counted)."""

    principal: Principal
    quota: Quota | None


async def _prove(authenticator: Authenticator, credentials: Credentials) -> Principal:
    if credentials.scheme != authenticator.scheme or not credentials.secret:
        raise InvalidCredentialsError(f"expected {authenticator.scheme} credentials")
    return await authenticator.authenticate(credentials.secret)


class Guard:
    """Authenticate, rate-limit, authorize: in that order, for every protected call."""

    def __init__(self, authenticator: Authenticator | None, limiter: RateLimiter) -> None:
        self._authenticator = authenticator
        self._limiter = limiter
        # Without an authenticator every caller holds every permission; the scheme is moot.
        self._scheme = (
            authenticator.scheme if authenticator is not None else CredentialScheme.BEARER
        )

    async def admit(
        self, credentials: Credentials | None, permission: Permission, client: str
    ) -> Admission:
        """The admission of a call needing ``permission``, or the error that refuses it."""
        principal = await self._authenticate(credentials, client)
        key = f"caller:{principal.subject}" if principal.authenticated else f"ip:{client}"
        quota = await self._limiter.hit(key, authenticated=principal.authenticated)
        if quota is not None and not quota.allowed:
            raise RateLimitedError(quota)
        if not principal.may(permission):
            log.info("permission_denied", subject=principal.subject, permission=permission.value)
            raise PermissionDeniedError(self._scheme, permission)
        return Admission(principal, quota)

    async def _authenticate(self, credentials: Credentials | None, client: str) -> Principal:
        authenticator = self._authenticator
        if authenticator is None:
            return TRUSTED_ANONYMOUS
        if credentials is None:
            await self._count_failure(client)
            raise UnauthenticatedError(authenticator.scheme, invalid=False)
        try:
            return await _prove(authenticator, credentials)
        except InvalidCredentialsError as error:
            log.info("authentication_failed", reason=error.reason, client=client)
            await self._count_failure(client)
            raise UnauthenticatedError(authenticator.scheme, invalid=True) from None

    async def _count_failure(self, client: str) -> None:
        quota = await self._limiter.hit(f"ip:{client}", authenticated=False)
        if quota is not None and not quota.allowed:
            raise RateLimitedError(quota)

    async def close(self) -> None:
        """Release what the authenticator and the limiter hold."""
        if self._authenticator is not None:
            await self._authenticator.close()
        await self._limiter.close()
