"""What every command shares: argument types, data on stdout, and its subparsers."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.auth.principal import Permission

# Where a command module adds its commands (``register(commands)``).
type Commands = argparse._SubParsersAction[argparse.ArgumentParser]  # argparse's own type


def positive_int(text: str) -> int:
    """A whole number of at least 1, for options such as ``--limit``."""
    value = int(text)
    if value < 1:
        message = f"must be at least 1, not {value}"
        raise argparse.ArgumentTypeError(message)
    return value


def positive_seconds(text: str) -> float:
    """A duration in seconds above 0, for options such as ``--timeout``."""
    value = float(text)
    if not value > 0:  # also refuses nan
        message = f"must be more than 0 seconds, not {text}"
        raise argparse.ArgumentTypeError(message)
    return value


def add_scope_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--scope``, required and repeatable, one of the service's permissions each time."""
    parser.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[permission.value for permission in Permission],
        help=help_text,
    )


def write_document(document: dict[str, Any], output: str) -> None:
    """``document`` as indented JSON, to the file ``output`` or to stdout for ``-``."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def write_record(record: dict[str, Any]) -> None:
    """One JSON line on stdout: what commands that list things print per item."""
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
