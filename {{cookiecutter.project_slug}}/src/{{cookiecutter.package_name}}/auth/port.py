"""What every authentication mode provides: credentials in, a principal out."""

from typing import Protocol

from {{ cookiecutter.package_name }}.auth.credentials import CredentialScheme
from {{ cookiecutter.package_name }}.auth.principal import Principal


class Authenticator(Protocol):
    """Proves who a caller is from the secret it sent."""

    @property
    def scheme(self) -> CredentialScheme:
        """The credentials it accepts (and names in ``WWW-Authenticate``)."""
        ...

    async def authenticate(self, secret: str) -> Principal:
        """The caller ``secret`` proves; raise ``InvalidCredentialsError`` with the reason."""
        ...

    async def close(self) -> None:
        """Release connections and caches."""
        ...
