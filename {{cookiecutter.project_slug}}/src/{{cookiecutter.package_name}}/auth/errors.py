"""Authentication, permission and rate-limit failures, in the service's one error taxonomy.

Messages stay generic on purpose: telling a caller *why* a credential failed
(unknown, revoked, bad signature) helps an attacker more than a client. The
reason is logged instead.
"""

from {{ cookiecutter.package_name }}.auth.credentials import CredentialScheme
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.auth.rate_limits import Quota
from {{ cookiecutter.package_name }}.domain.errors import ErrorKind, ServiceError

# A reason may quote what the caller sent (a token's algorithm, a key id): beyond this
# length it is cut, so that a hostile credential cannot grow a log line without bound.
MAX_REASON_LENGTH = 200


class InvalidCredentialsError(Exception):
    """Raised by an authenticator; ``reason`` is for the log, never for the caller."""

    def __init__(self, reason: str) -> None:
        if len(reason) > MAX_REASON_LENGTH:
            reason = f"{reason[:MAX_REASON_LENGTH]}... ({len(reason)} characters)"
        super().__init__(reason)
        self.reason = reason


class UnauthenticatedError(ServiceError):
    """No credentials, or credentials that did not prove who the caller is."""

    def __init__(self, scheme: CredentialScheme, *, invalid: bool) -> None:
        message = "The credentials are not valid." if invalid else "This call needs credentials."
        code = "invalid_credentials" if invalid else "unauthenticated"
        super().__init__(ErrorKind.UNAUTHENTICATED, code, message)
        self.scheme = scheme
        self.invalid = invalid


class PermissionDeniedError(ServiceError):
    """The caller is known but may not make this call."""

    def __init__(self, scheme: CredentialScheme, permission: Permission) -> None:
        super().__init__(
            ErrorKind.PERMISSION_DENIED,
            "permission_denied",
            f"This call needs the {permission.value} permission.",
        )
        self.scheme = scheme
        self.permission = permission


class RateLimitedError(ServiceError):
    """The caller has used up its quota for the current window."""

    def __init__(self, quota: Quota) -> None:
        super().__init__(
            ErrorKind.RATE_LIMITED,
            "rate_limited",
            f"Too many requests; retry in {quota.reset_seconds} seconds.",
        )
        self.quota = quota
