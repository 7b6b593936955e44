"""No credentials on REST: a gateway authenticates, so the guard only counts calls per address."""

from typing import Annotated

from fastapi import Depends

from {{ cookiecutter.package_name }}.auth.credentials import Credentials

# Nothing is refused for its credentials, so no route documents such a refusal.
FAILURE_RESPONSES: dict[int, str] = {}


async def no_credentials() -> None:
    """Nothing to read: credentials a caller sends anyway are ignored, not half-trusted."""


Caller = Annotated[Credentials | None, Depends(no_credentials)]
