"""API keys as a forger makes them, for the tests of auth=api_key."""

from {{ cookiecutter.package_name }}.auth.api_keys import IssuedKey, checksum


def with_secret(key: str, secret: str) -> str:
    """``key`` with its secret replaced and a checksum that matches again."""
    body = key.rsplit("_", 1)[0] + "_" + secret
    return body + checksum(body)


def assert_no_key_in(logged: str, issued: IssuedKey, forged: str) -> None:
    """The log tells of the key's creation and refusals, never of a key or its secret."""
    assert "api_key_created" in logged
    assert "authentication_failed" in logged
    assert "permission_denied" in logged
    secret = issued.key.rsplit("_", 1)[1]
    for leaked in (issued.key, secret, forged):  # even the drivers' DEBUG logs
        assert leaked not in logged
    assert issued.key not in repr(issued)
