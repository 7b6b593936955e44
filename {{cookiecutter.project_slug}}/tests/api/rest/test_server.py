"""The real server process: starts, serves over TCP, stops cleanly on SIGTERM."""

import signal

import httpx

from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access
from tests.support.processes import free_port, start_serving, wait_until_ready


def test_serve_answers_over_tcp_and_shuts_down_on_sigterm(
    database_settings: Settings, credentials: Credentials | None
) -> None:
    port = free_port()
    process = start_serving(database_settings, HTTP_PORT=str(port))
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
            headers={"X-Request-ID": "e2e-1", **access.headers(credentials)},
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
