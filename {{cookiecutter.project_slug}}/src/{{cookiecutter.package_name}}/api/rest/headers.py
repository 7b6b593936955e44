"""The request headers the orders API honours, and the rate-limit headers it sends."""

import re

from {{ cookiecutter.package_name }}.application.etags import version_of
from {{ cookiecutter.package_name }}.auth.rate_limits import Quota
from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError

IDEMPOTENCY_KEY = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# The same syntax for the OpenAPI document: the key bare, or as a Structured Field string.
IDEMPOTENCY_KEY_SCHEMA = {
    "pattern": f'^(?:{_KEY.pattern}|"{_KEY.pattern}")$',
    "maxLength": 255 + len('""'),
}


def parse_idempotency_key(raw: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header (a Structured Field string).

    A bare token is accepted too, since many clients omit the quotes.
    """
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':  # noqa: PLR2004 - two quotes
        value = value[1:-1]
    if not _KEY.fullmatch(value):
        raise MalformedRequestError(
            "The Idempotency-Key header is not valid.",
            FieldViolation(IDEMPOTENCY_KEY, "Use 1 to 255 visible ASCII characters."),
        )
    return value


def parse_if_match(raw: str | None) -> frozenset[int] | None:
    """The versions an ``If-Match`` header accepts; ``None`` means any (absent or ``*``).

    If-Match uses strong comparison, so weak tags (``W/"v1"``) and tags this
    service never issued match nothing, which yields 412 as RFC 9110 asks.
    """
    if raw is None or raw.strip() == "*":
        return None
    versions = (version_of(tag) for tag in raw.split(","))
    return frozenset(version for version in versions if version is not None)


def rate_limit_headers(quota: Quota) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi draft), as Structured Fields."""
    return {
        "RateLimit-Policy": f'"{quota.policy}";q={quota.limit};w={quota.window_seconds}',
        "RateLimit": f'"{quota.policy}";r={quota.remaining};t={quota.reset_seconds}',
    }
