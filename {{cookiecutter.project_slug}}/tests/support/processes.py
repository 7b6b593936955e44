"""Helpers for tests that run the real server and worker processes."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from pydantic import BaseModel, SecretStr

from {{ cookiecutter.package_name }}.settings import Settings
from tests.support.waiting import eventually

READY_SECONDS = 30.0
PROBE_LIMITS = httpx.Limits(max_keepalive_connections=0)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll ``/readyz`` until it answers 200; fail if the process exits or 30 s pass."""
    deadline = time.monotonic() + 30
    with probe_client() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.communicate(timeout=5)[0].decode(errors="replace")
                message = f"the server exited {process.returncode} during start-up:\n{output}"
                raise AssertionError(message)
            try:
                if http.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
    raise AssertionError("the server did not become ready within 30 s")


def probe_client() -> httpx.Client:
    """A client for polling a probe: one for all the polls, since each client loads the CA
    certificates; and none of them kept alive, since the process may be gone at the next."""
    return httpx.Client(limits=PROBE_LIMITS)


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


class Process:
    """One service process, with its probe port."""

    def __init__(self, command: str, settings: Settings, **environment: str) -> None:
        ports = {"HTTP_PORT": str(free_port())} | environment
        self.command = command
        self.http_port = int(ports["HTTP_PORT"])
        self.popen: subprocess.Popen[bytes] = start_command(command, settings, **ports)
        # Longer than a readiness check may take (2 s: a database that does not answer).
        self._probes = httpx.AsyncClient(timeout=5.0, limits=PROBE_LIMITS)
        self._output: str | None = None

    async def get(self, path: str) -> httpx.Response | None:
        """The probe port's answer to ``GET path`` (``None`` while nothing listens)."""
        try:
            return await self._probes.get(f"http://127.0.0.1:{self.http_port}{path}")
        except httpx.TransportError:
            return None

    async def readiness(self) -> int:
        """The status ``/readyz`` answers (0 while nothing listens)."""
        response = await self.get("/readyz")
        return 0 if response is None else response.status_code

    async def wait_for_readiness(self, status: int) -> None:
        """Poll ``/readyz`` until it answers ``status``, without blocking the event loop."""

        async def answers() -> bool:
            if self.popen.poll() is not None:
                output = await self.stop()
                raise AssertionError(f"{self.command} exited {self.popen.returncode}:\n{output}")
            return await self.readiness() == status

        await eventually(answers, seconds=READY_SECONDS)

    async def stop(self) -> str:
        """SIGTERM, then the process's output once it has exited (kept for a second call).

        Waited for in a thread: the test's event loop keeps running the proxy
        the process may still be talking through while it shuts down.
        """
        if self._output is None:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
            output, _ = await asyncio.to_thread(self.popen.communicate, timeout=30)
            await self._probes.aclose()
            self._output = output.decode(errors="replace")
        return self._output
