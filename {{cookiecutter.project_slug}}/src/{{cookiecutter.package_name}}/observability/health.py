"""Readiness: whether the service's dependencies answer, for every transport's probes."""

import asyncio
from collections.abc import Awaitable, Callable

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.storage.port import Storage

READINESS_TIMEOUT_SECONDS = 2.0


async def answers(ping: Callable[[], Awaitable[None]]) -> bool:
    """Whether ``ping`` (a database's, a broker's) succeeds within the readiness timeout."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await ping()
    except (ServiceUnavailableError, TimeoutError):
        return False
    return True


async def database_ready(storage: Storage) -> bool:
    """Whether the database answers within the readiness timeout."""
    return await answers(storage.ping)
