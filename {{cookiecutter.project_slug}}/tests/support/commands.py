"""The command line run in the test process, as ``python -m <package>`` runs it.

A new interpreter spends about a second importing the service before a one-off
command (list, replay, issue, purge) does anything, so their tests run
:func:`cli.main` here instead: in a thread of its own, since a command runs its
own event loop, with the command's environment and its own stdout and stderr.
The long-running processes (``serve``, ``relay``, ``consume``) stay real
processes (``tests.support.processes``): their tests are about signals,
probes and shutdown.
"""

import io
import os
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.settings import Settings, get_settings
from tests.support.processes import environment_of
from tests.support.service_logs import logging_restored

COMMAND_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the command exited with and printed, as a process would report it."""

    returncode: int
    stdout: str
    stderr: str


def run_command(settings: Settings, *arguments: str, **environment: str) -> CommandResult:
    """``<package> <arguments>`` with ``settings`` (``environment`` over them), to its end."""
    variables = environment_of(settings) | {"LOG_FORMAT": "json", **environment}
    results: list[CommandResult] = []
    worker = threading.Thread(target=lambda: results.append(_run(arguments, variables)))
    worker.start()
    worker.join(COMMAND_SECONDS)
    if not results:
        message = f"{' '.join(arguments)} did not end within {COMMAND_SECONDS:.0f} s"
        raise AssertionError(message)
    return results[0]


def _run(arguments: Sequence[str], variables: Mapping[str, str]) -> CommandResult:
    """Run the command as the interpreter would: an uncaught error prints its traceback, exit 1."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        _environment(variables),
        logging_restored(),
        redirect_stdout(stdout),
        redirect_stderr(stderr),
    ):
        try:
            code = main(arguments)
        except SystemExit as exit_:  # argparse refusing the arguments, say
            code = _exit_status(exit_.code)
        except Exception:  # reported as the interpreter reports it
            traceback.print_exc()
            code = 1
    return CommandResult(code, stdout.getvalue(), stderr.getvalue())


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives a process, which prints a message to stderr."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # noqa: T201
    return 1


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """The process environment with ``variables`` set, and settings read from it afresh."""
    before = dict(os.environ)
    os.environ.update(variables)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)
        get_settings.cache_clear()
