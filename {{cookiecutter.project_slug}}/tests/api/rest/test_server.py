"""The real server process: starts, serves over TCP, stops cleanly on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from {{ cookiecutter.package_name }}.settings import Settings


def environment_of(settings: Settings) -> dict[str, str]:
    """The environment variables that make a process read ``settings``."""
    return {
        name.upper(): value if isinstance(value, str) else json.dumps(value)
        for name, value in settings.model_dump(mode="json").items()
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become ready within 30 s")


def test_serve_answers_over_tcp_and_shuts_down_on_sigterm(database_settings: Settings) -> None:
    port = free_port()
    env = {
        **os.environ,
        **environment_of(database_settings),
        "HTTP_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(base_url, process)
        created = httpx.post(
            f"{base_url}/v1/orders",
            json={
                "customer_id": "tcp",
                "currency": "EUR",
                "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}],
            },
            headers={"X-Request-ID": "e2e-1"},
        )
        assert created.status_code == 201
        assert created.headers["x-request-id"] == "e2e-1"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    # uvicorn re-raises the signal once it has drained, so the exit reports SIGTERM.
    assert process.returncode in {0, -signal.SIGTERM}, output.decode()
    assert b"Application shutdown complete" in output
    assert b'"request_id":"e2e-1"' in output
    assert b"Traceback" not in output


def test_invalid_configuration_fails_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"],
        env=os.environ | {"HTTP_PORT": "not-a-port"},
        capture_output=True,
        check=False,
        timeout=30,
    )

    assert result.returncode == 2
    assert b"invalid configuration: HTTP_PORT" in result.stderr
    assert b"Traceback" not in result.stderr
