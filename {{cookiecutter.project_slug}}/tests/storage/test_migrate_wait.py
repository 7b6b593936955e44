"""``migrate wait``: what a pod's init container runs so that a release starts on its schema."""

import asyncio
import json

import pytest

from {{ cookiecutter.package_name }}.commands import database
from {{ cookiecutter.package_name }}.commands.database import wait_for_migrations
from {{ cookiecutter.package_name }}.container import open_migrator
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.commands import run_command
from tests.support.database import DatabaseServer
from tests.support.processes import free_port


def logged(stdout: str, event: str) -> dict[str, object]:
    """The one JSON log line of ``event``."""
    (line,) = [json.loads(text) for text in stdout.splitlines() if f'"{event}"' in text]
    assert isinstance(line, dict)
    return line


def test_it_returns_at_once_when_every_migration_is_applied(settings: Settings) -> None:
    result = run_command(settings, "migrate", "wait", "--timeout", "10")

    assert result.returncode == 0, result.stdout + result.stderr
    assert logged(result.stdout, "migrate_wait_done")["current"]


async def test_it_returns_once_the_migration_job_has_run(
    empty_database_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "WAIT_POLL_SECONDS", 0.1)
    async with (
        open_migrator(empty_database_settings) as init_container,
        open_migrator(empty_database_settings) as job,
    ):
        waiting = asyncio.create_task(wait_for_migrations(init_container, seconds=60))
        await asyncio.sleep(0.5)
        assert not waiting.done()

        await job.upgrade()
        async with asyncio.timeout(30):
            assert await waiting == 0
        assert await init_container.pending() == []


def test_it_gives_up_after_its_timeout_naming_what_is_missing(
    empty_database_settings: Settings,
) -> None:
    result = run_command(empty_database_settings, "migrate", "wait", "--timeout", "0.5")

    assert result.returncode == 1
    missing = logged(result.stdout, "migrate_wait_timed_out")["pending"]
    assert isinstance(missing, list)
    assert missing
    assert missing == sorted(missing)


def test_it_waits_for_an_unreachable_database_as_for_a_migration(
    database_server: DatabaseServer, settings: Settings
) -> None:
    unreachable = database_server.through(settings, free_port())

    result = run_command(unreachable, "migrate", "wait", "--timeout", "1")

    assert result.returncode == 1
    assert "unavailable" in str(logged(result.stdout, "migrate_wait_timed_out")["pending"])


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "soon"])
def test_a_timeout_that_is_not_a_positive_duration_is_refused(
    settings: Settings, timeout: str
) -> None:
    result = run_command(settings, "migrate", "wait", "--timeout", timeout)

    assert result.returncode == 2
    assert "--timeout" in result.stderr
