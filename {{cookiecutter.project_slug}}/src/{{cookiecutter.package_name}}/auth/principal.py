"""The caller as the service sees it, whatever the credentials were."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    """One kind of access; tokens and API keys grant them by scopes of the same name."""

    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    WEBHOOKS_MANAGE = "webhooks:manage"

    @classmethod
    def granted_by(cls, scopes: Iterable[str]) -> frozenset["Permission"]:
        """The permissions ``scopes`` name; scopes the service does not know grant nothing."""
        known = {permission.value: permission for permission in cls}
        return frozenset(known[scope] for scope in scopes if scope in known)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (or, with no authentication, the anonymous one)."""

    subject: str
    permissions: frozenset[Permission]
    authenticated: bool = True

    def may(self, permission: Permission) -> bool:
        """Whether the caller holds ``permission``."""
        return permission in self.permissions


# With authentication left to a gateway, every caller that reaches the service may do anything.
TRUSTED_ANONYMOUS = Principal("anonymous", frozenset(Permission), authenticated=False)
