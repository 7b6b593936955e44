"""The Makefile: every target listed by ``make help``, every service command one the CLI has."""

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.cli import parser

PROJECT = Path(__file__).parents[2]
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make(*arguments: str) -> str:
    assert MAKE is not None
    result = subprocess.run(  # noqa: S603 - make from PATH, with the test's own arguments
        [MAKE, "--no-print-directory", *arguments],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout


def phony_targets() -> list[str]:
    (line,) = [
        line
        for line in (PROJECT / "Makefile").read_text().splitlines()
        if line.startswith(".PHONY:")
    ]
    return line.removeprefix(".PHONY:").split()


def test_help_lists_every_target_once() -> None:
    listed = [line.split()[0] for line in make("help").splitlines()]

    assert sorted(listed) == sorted(phony_targets())


@pytest.mark.parametrize("target", phony_targets())
def test_every_service_command_of_a_target_exists(target: str) -> None:
    commands = [shlex.split(line) for line in make("--dry-run", target).splitlines()]

    assert commands
    for words in commands:
        if words[:3] == ["uv", "run", "{{ cookiecutter.project_slug }}"]:
            parser().parse_args(words[3:])  # exits on an unknown command or argument
