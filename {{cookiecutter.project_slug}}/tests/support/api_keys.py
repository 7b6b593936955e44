"""API keys as a forger makes them, for the tests of auth=api_key."""

from {{ cookiecutter.package_name }}.auth.api_keys import checksum


def with_secret(key: str, secret: str) -> str:
    """``key`` with its secret replaced and a checksum that matches again."""
    body = key.rsplit("_", 1)[0] + "_" + secret
    return body + checksum(body)
