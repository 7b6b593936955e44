"""What the shared broker fixtures (in conftest.py) need from the chosen broker's plugin."""

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.database import DatabaseServer


class BrokerServer(Protocol):
    """The broker the tests declare their namespaces on, and how to reach it through a proxy."""

    def isolated(self, settings: Settings) -> AbstractAsyncContextManager[Settings]:
        """``settings`` on a namespace (and vhost, where the broker has them) of one test.

        Everything the service declares there is deleted on exit.
        """
        ...

    def address(self, settings: Settings) -> tuple[str, int]:
        """Host and port of the broker ``settings`` point at."""
        ...

    def through(self, settings: Settings, port: int) -> Settings:
        """``settings`` reaching the same broker via 127.0.0.1:``port``, failing fast."""
        ...


def with_quick_retries(settings: Settings) -> Settings:
    """``settings`` with quick, few retries and a short ack timeout.

    So that dead-lettering and crash recovery take seconds in tests, not minutes.
    """
    return settings.model_copy(
        update={
            "consumer_ack_timeout_seconds": 3.0,
            "consumer_max_attempts": 3,
            "consumer_retry_base_seconds": 0.05,
            "consumer_retry_max_seconds": 0.2,
        }
    )


@asynccontextmanager
async def isolated_event_path(
    database_server: DatabaseServer, broker_server: BrokerServer, auth_settings: Mapping[str, Any]
) -> AsyncIterator[Settings]:
    """Settings on a migrated database and a broker namespace of their own, retrying quickly."""
    async with database_server.migrated_database() as migrated:
        quick = with_quick_retries(
            migrated.model_copy(update={**auth_settings, "log_requests": False})
        )
        async with broker_server.isolated(quick) as isolated:
            yield isolated
