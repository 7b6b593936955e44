"""Entity tags: an order's version as both transports quote it (RFC 9110, AIP-154)."""

import re

_STRONG_ETAG = re.compile(r'"v([1-9][0-9]{0,9})"')


def etag(version: int) -> str:
    """A strong entity tag for a resource version."""
    return f'"v{version}"'


def version_of(tag: str) -> int | None:
    """The version a strong tag of this service names; ``None`` for any other tag.

    Comparison is strong, so weak tags (``W/"v1"``) name no version.
    """
    match = _STRONG_ETAG.fullmatch(tag.strip())
    return int(match.group(1)) if match else None
