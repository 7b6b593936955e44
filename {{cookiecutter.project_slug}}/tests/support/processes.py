"""Helpers for tests that run the real server process."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
from pydantic import BaseModel, SecretStr

from {{ cookiecutter.package_name }}.settings import Settings


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll ``/readyz`` until it answers 200; fail if the process exits or 30 s pass."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become ready within 30 s")


def environment_of(settings: Settings) -> dict[str, str]:
    """The environment variables that make a process read ``settings`` (secrets revealed)."""
    values = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            values[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):  # a group (WEBHOOKS_PAYMENTS) may hold secrets too
            for inner in type(value).model_fields:
                if isinstance(secret := getattr(value, inner), SecretStr):
                    values[name][inner] = secret.get_secret_value()
    return {
        name.upper(): value if isinstance(value, str) else json.dumps(value)
        for name, value in values.items()
        if value is not None
    }


def start_serving(settings: Settings, **environment: str) -> subprocess.Popen[bytes]:
    """``<package> serve`` with ``settings``, logging JSON to its stdout."""
    return start_command("serve", settings, **environment)


def start_command(command: str, settings: Settings, **environment: str) -> subprocess.Popen[bytes]:
    """``<package> <command>`` with ``settings``, logging JSON to its stdout."""
    env = os.environ | environment_of(settings) | {"LOG_FORMAT": "json", **environment}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
