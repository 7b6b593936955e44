"""Where a keyset page ends: the position the next page starts after.

Both the storage port (which seeks past it) and the transports (which hand it
to callers as an opaque token) use it, so it lives with the domain.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self
from uuid import UUID

from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError

# What a token looks like (base64url, unpadded), for API documents; only decode() decides.
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last item of a page, in (created_at, id) descending order."""

    created_at: datetime
    id: UUID

    def encode(self) -> str:
        """An opaque, URL-safe token."""
        raw = json.dumps([self.created_at.isoformat(), str(self.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    @classmethod
    def decode(cls, token: str, *, field: str = "cursor") -> Self:
        """Parse a token made by :meth:`encode`; anything else is a malformed request."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created_at, identifier = json.loads(raw)
            moment = datetime.fromisoformat(created_at)
            # In UTC, as stored: a time whose offset takes it past year 1 or 9999 fails here.
            cursor = cls(moment.astimezone(UTC), UUID(identifier)) if moment.tzinfo else None
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError) as error:
            raise _malformed(field) from error
        if cursor is None:
            raise _malformed(field)
        return cursor


def _malformed(field: str) -> MalformedRequestError:
    return MalformedRequestError(
        "The page cursor is not valid.",
        FieldViolation(field, "Use the cursor returned by the previous page."),
    )
