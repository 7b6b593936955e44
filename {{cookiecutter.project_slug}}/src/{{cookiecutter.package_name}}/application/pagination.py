"""Offset and keyset (cursor) pagination shared by every transport."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Self
from uuid import UUID

from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


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
            cursor = cls(datetime.fromisoformat(created_at), UUID(identifier))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
            raise MalformedRequestError(
                "The page cursor is not valid.",
                FieldViolation(field, "Use the cursor returned by the previous page."),
            ) from error
        if cursor.created_at.tzinfo is None:
            raise MalformedRequestError(
                "The page cursor is not valid.",
                FieldViolation(field, "Use the cursor returned by the previous page."),
            )
        return cursor


@dataclass(frozen=True, slots=True)
class OffsetPage[T]:
    """A page addressed by offset, with the total count of matches."""

    items: list[T]
    offset: int
    limit: int
    total: int

    @property
    def next_offset(self) -> int | None:
        """Offset of the following page, or ``None`` on the last page."""
        following = self.offset + len(self.items)
        return following if following < self.total and self.items else None


@dataclass(frozen=True, slots=True)
class CursorPage[T]:
    """A page addressed by cursor; ``next_cursor`` is ``None`` on the last page."""

    items: list[T]
    limit: int
    next_cursor: Cursor | None
