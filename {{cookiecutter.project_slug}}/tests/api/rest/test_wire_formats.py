"""REST headers and the error mapping: small parsers with sharp edges."""

import pytest

from {{ cookiecutter.package_name }}.api.envelope import HTTP_STATUS
from {{ cookiecutter.package_name }}.api.rest.errors import field_path
from {{ cookiecutter.package_name }}.api.rest.headers import parse_idempotency_key, parse_if_match
from {{ cookiecutter.package_name }}.application.etags import etag
from {{ cookiecutter.package_name }}.domain.errors import ErrorKind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ('"abc"', "abc"), ("abc", "abc"), (' "k-1" ', "k-1")],
)
def test_idempotency_key_accepts_sf_strings_and_tokens(raw: str | None, expected: str) -> None:
    assert parse_idempotency_key(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("*", None),
        ('"v3"', frozenset({3})),
        ('"v3", "v4"', frozenset({3, 4})),
        ('W/"v3"', frozenset()),
        ('"3"', frozenset()),
    ],
)
def test_if_match_uses_strong_comparison(raw: str | None, expected: frozenset[int] | None) -> None:
    assert parse_if_match(raw) == expected
    assert parse_if_match(etag(5)) == frozenset({5})


def test_every_error_kind_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorKind)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (("body", "lines", 0, "sku"), "lines[0].sku"),
        (("query", "limit"), "limit"),
        (("body",), "body"),
    ],
)
def test_field_paths_read_like_the_json_they_point_into(
    location: tuple[str | int, ...], expected: str
) -> None:
    assert field_path(location) == expected
