"""Cursors and pages: the paging every API shares."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.application.pagination import OffsetPage
from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import MalformedRequestError


def test_cursor_round_trips_and_is_url_safe() -> None:
    cursor = Cursor(datetime(2026, 5, 1, 12, 30, 0, 123456, tzinfo=UTC), uuid4())

    token = cursor.encode()

    assert Cursor.decode(token) == cursor
    assert token.isascii()
    assert not set(token) & set("+/=")


@pytest.mark.parametrize("token", ["", "!!!", "bm90IGpzb24", "WzEsMl0", "WyIyMDI2LTAxLTAxIiwieCJd"])
def test_foreign_cursors_are_malformed_requests(token: str) -> None:
    with pytest.raises(MalformedRequestError):
        Cursor.decode(token)


def test_offset_page_knows_its_successor() -> None:
    assert OffsetPage(items=[1, 2], offset=0, limit=2, total=3).next_offset == 2
    assert OffsetPage(items=[3], offset=2, limit=2, total=3).next_offset is None
    assert OffsetPage(items=[], offset=9, limit=2, total=3).next_offset is None
