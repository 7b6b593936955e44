"""Offset and keyset (cursor) pagination shared by every transport."""

from dataclasses import dataclass

from {{ cookiecutter.package_name }}.domain.cursor import Cursor

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


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
