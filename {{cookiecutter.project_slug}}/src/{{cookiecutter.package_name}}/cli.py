"""The command line: every command the service's choices bring, in one parser.

The commands themselves live in the ``commands`` package, one module per choice
that brings some; this module only assembles them and runs the one asked for.
"""

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import structlog
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import commands
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.observability.logging import configure_logging
from {{ cookiecutter.package_name }}.settings import ConfigurationError, get_settings

log = structlog.get_logger(__name__)


def parser() -> argparse.ArgumentParser:
    """Every command of the service, each with its arguments."""
    command_line = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__)
    subcommands = command_line.add_subparsers(dest="command", required=True)
    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{module.name}").register(subcommands)
    return command_line


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; exit 1 with a clear error on failure."""
    arguments = parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        print(f"invalid configuration: {problems}", file=sys.stderr)  # noqa: T201
        return 2
    # A command whose output is data (a document, dead letters) logs to stderr, so
    # that its stdout can be piped.
    log_stream = sys.stderr if getattr(arguments, "prints_data", False) else sys.stdout
    configure_logging(settings.log_level, settings.log_format, log_stream)
    try:
        return int(arguments.handler(arguments))
    except ConfigurationError as error:
        print(f"invalid configuration: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except ServiceUnavailableError as error:
        log.error("command_failed", command=arguments.command, error=error.message)  # noqa: TRY400
        return 1
