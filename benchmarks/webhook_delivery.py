"""Benchmark: the generated ``deliver`` worker against bare signed POSTs with httpx2.

Both send the same webhook bodies to the same receiver on loopback (uvicorn,
answering 204), with the same number of requests in flight, each signed with
Standard Webhooks. The worker also leases the deliveries in PostgreSQL, checks
each destination, goes through the resilient client and the endpoint's circuit
breaker, and records every attempt. Prints deliveries per second of each and
the ratio (ours / bare), measured in the same run. Needs PostgreSQL at
DATABASE_URL (loopback default).

    uv run python benchmarks/webhook_delivery.py [--deliveries 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# The receiver both senders post to: it reads the body and answers 204, nothing more.
_RECEIVER = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""

# Runs inside the baked project's environment, where its package is importable.
_MEASURE = """
import asyncio, sys, time
from datetime import UTC, datetime, timedelta
import httpx2
from orders_service.container import build_container, open_webhook_deliverer
from orders_service.domain.events import OrderEvent
from orders_service.domain.orders import NewOrder, Order, OrderLine
from orders_service.domain.webhooks import NewEndpoint, WebhookEndpoint, webhook_body
from orders_service.observability.logging import configure_logging
from orders_service.settings import Settings
from orders_service.webhooks.signatures import signed_headers

DELIVERIES, CONCURRENCY, URL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def events():
    new = NewOrder(customer_id="bench", currency="EUR", lines=(OrderLine("A", 1, 100),))
    return [OrderEvent.created(Order.place(new, datetime.now(UTC))) for _ in range(DELIVERIES)]


async def seed(container, endpoint):
    await container.webhooks.endpoints.add(endpoint)
    seeded = events()
    for start in range(0, len(seeded), 500):
        async with container.storage.unit_of_work() as uow:
            for event in seeded[start:start + 500]:
                await uow.webhooks.add(event)
            await uow.commit()
    return seeded


async def worker_rate(settings):
    async with build_container(settings) as container:
        endpoint = WebhookEndpoint.create(NewEndpoint(URL, frozenset()), datetime.now(UTC))
        await seed(container, endpoint)
        async with open_webhook_deliverer(container) as deliverer:
            stop = asyncio.Event()
            began = time.perf_counter()
            running = asyncio.create_task(deliverer.run(stop))
            deliveries = container.webhooks.deliveries
            while await deliveries.backlog(datetime.now(UTC)):
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - began
            stop.set()
            await running
        return DELIVERIES / elapsed, endpoint


async def bare_rate(endpoint):
    bodies = [webhook_body(event).encode() for event in events()]
    keys = [secret.key for secret in endpoint.signing_secrets(datetime.now(UTC))]
    slots = asyncio.Semaphore(CONCURRENCY)
    async with httpx2.AsyncClient(limits=httpx2.Limits(max_connections=CONCURRENCY)) as http:

        async def post(number, body):
            async with slots:
                headers = signed_headers(f"msg_{number}", int(time.time()), body, keys)
                headers["content-type"] = "application/json"
                response = await http.post(URL, content=body, headers=headers)
                assert response.is_success, response.status_code

        began = time.perf_counter()
        await asyncio.gather(*(post(number, body) for number, body in enumerate(bodies)))
        return DELIVERIES / (time.perf_counter() - began)


async def main():
    configure_logging("WARNING", "json")
    settings = Settings(
        webhooks_allow_http=True,
        webhooks_allow_private_addresses=True,
        webhooks_deliver_concurrency=CONCURRENCY,
        webhooks_deliver_batch_size=CONCURRENCY,
    )
    ours, endpoint = await worker_rate(settings)
    bare = await bare_rate(endpoint)
    print(f"deliver worker (lease, check, sign, post, record): {ours:8.0f} deliveries/s")
    print(f"bare httpx2 (sign, post):                          {bare:8.0f} deliveries/s")
    print(f"ratio ours / bare: {ours / bare:.2f}x")


asyncio.run(main())
"""


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    sys.exit(f"the receiver did not listen on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    database = f"bench_webhooks_{os.getpid()}"
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(
            cookiecutter(
                str(REPO),
                no_input=True,
                output_dir=scratch,
                extra_context={"queue": "none", "auth": "none"},
            )
        )
        run(["uv", "sync", "--quiet"], project)
        (project / "receiver.py").write_text(_RECEIVER, encoding="utf-8")
        port = free_port()
        receiver = subprocess.Popen(
            [
                "uv",
                "run",
                "uvicorn",
                "receiver:app",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--http",
                "httptools",
            ],
            cwd=project,
        )
        run(["psql", SERVER_URL, "-qc", f'CREATE DATABASE "{database}"'], REPO)
        env = os.environ | {
            "DATABASE_URL": f"{SERVER_URL.rsplit('/', 1)[0]}/{database}",
            "LOG_LEVEL": "WARNING",
        }
        try:
            wait_listening(port)
            run(["uv", "run", "orders-service", "migrate", "upgrade"], project, env)
            script = project / "measure.py"
            script.write_text(_MEASURE, encoding="utf-8")
            url = f"http://127.0.0.1:{port}/hooks"
            argv = [
                "uv",
                "run",
                "python",
                str(script),
                str(options.deliveries),
                str(options.concurrency),
                url,
            ]
            sys.stdout.write(run(argv, project, env))
        finally:
            receiver.terminate()
            receiver.wait()
            run(["psql", SERVER_URL, "-qc", f'DROP DATABASE "{database}" WITH (FORCE)'], REPO)


if __name__ == "__main__":
    main()
