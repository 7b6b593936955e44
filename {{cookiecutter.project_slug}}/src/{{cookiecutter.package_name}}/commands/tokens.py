"""``issue-token``: a signed access token for local calls (auth=jwt)."""

import argparse
import sys
from datetime import timedelta

import structlog

from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.console import Commands, add_scope_option
from {{ cookiecutter.package_name }}.settings import get_settings

log = structlog.get_logger(__name__)

# A token cannot be revoked before it expires, so none lives longer than a day.
MAX_TOKEN_TTL_SECONDS = 86_400


def _subject(text: str) -> str:
    """A non-blank subject, for ``--subject``."""
    if not text.strip():
        message = "must not be blank"
        raise argparse.ArgumentTypeError(message)
    return text.strip()


def _ttl_seconds(text: str) -> int:
    """A token lifetime in seconds, for ``--ttl-seconds``."""
    value = int(text)
    if not 1 <= value <= MAX_TOKEN_TTL_SECONDS:
        message = f"must be between 1 and {MAX_TOKEN_TTL_SECONDS}, not {value}"
        raise argparse.ArgumentTypeError(message)
    return value


def issue_token(arguments: argparse.Namespace) -> int:
    """Print an access token for a caller, signed with JWT_SECRET or JWT_PRIVATE_KEY."""
    from {{ cookiecutter.package_name }}.auth import jwt

    settings = get_settings()
    ttl_seconds = arguments.ttl_seconds or settings.jwt_token_ttl_seconds
    scopes = map(Permission, arguments.scope)
    token = jwt.issue_token(settings, arguments.subject, scopes, timedelta(seconds=ttl_seconds))
    sys.stdout.write(token + "\n")
    log.info(
        "token_issued", subject=arguments.subject, scopes=arguments.scope, ttl_seconds=ttl_seconds
    )
    return 0


def register(commands: Commands) -> None:
    """Add ``issue-token``."""
    token_parser = commands.add_parser("issue-token", help="print a signed access token")
    token_parser.add_argument(
        "--subject", type=_subject, required=True, help="who the token names (sub)"
    )
    add_scope_option(token_parser, "a permission to grant; repeat for several")
    token_parser.add_argument(
        "--ttl-seconds", type=_ttl_seconds, help="lifetime (default: JWT_TOKEN_TTL_SECONDS)"
    )
    token_parser.set_defaults(handler=issue_token, prints_data=True)
