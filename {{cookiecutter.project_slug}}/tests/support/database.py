"""What the shared database fixtures (in conftest.py) need from the chosen database's plugin."""

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from {{ cookiecutter.package_name }}.settings import Settings


class DatabaseServer(Protocol):
    """The server the tests make their databases on, and how to reach it through a proxy."""

    @property
    def invalid_settings(self) -> tuple[tuple[str, str], ...]:
        """Database settings, as (variable, value), that the service must refuse."""
        ...

    def created_database(self) -> AbstractAsyncContextManager[Settings]:
        """A new, empty database of its own, dropped on exit; its settings meanwhile."""
        ...

    def migrated_database(self) -> AbstractAsyncContextManager[Settings]:
        """A new database at the latest revision, of its own, dropped on exit."""
        ...

    def address(self, settings: Settings) -> tuple[str, int]:
        """Host and port of the server ``settings`` point at."""
        ...

    def through(self, settings: Settings, port: int) -> Settings:
        """``settings`` reaching the same database via 127.0.0.1:``port``, failing fast."""
        ...

    async def stored_record(self, settings: Settings, table: str, key: str) -> str | None:
        """Everything the database holds under primary key ``key`` in ``table``, as text."""
        ...

    def revision_before(self, revision: str) -> str:
        """The migration that ``revision`` follows (``base`` for the first)."""
        ...


def with_patient_transactions(settings: Settings) -> Settings:
    """``settings`` whose units of work retry a lost race for as long as a slow machine needs.

    For tests that start several writers of one record at once and expect each
    loser to see the winner's outcome. On PostgreSQL a loser waits on the row
    lock; on MongoDB, which fails at once a write to a document another
    transaction is writing, it runs its unit again, and the default budget
    (3 attempts, some 0.15 s) can run out under load: ``concurrent_modification``.
    """
    return settings.model_copy(
        update={"transaction_retry_attempts": 20, "transaction_retry_timeout_seconds": 30.0}
    )
