"""Benchmark: the generated REST service's GET-by-id against a bare FastAPI + asyncpg app.

The service is baked twice: with `auth=none` (the guard still counts every call
per address) and with `auth=jwt` (a bearer token verified and counted per
caller on every call), each with a quota too large to refuse anything, so the
limiter's cost is measured but never its refusals. Prints requests per second,
p99 latency and peak RSS of each, and the ratios (ours / bare) measured in the
same run on the same database row. Needs wrk (`apt-get install wrk`) and
PostgreSQL at DATABASE_URL (loopback default).

    uv run python benchmarks/rest_read.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def database() -> Iterator[str]:
    name = f"bench_{os.getpid()}"
    base = SERVER_URL.rsplit("/", 1)[0]
    run(["psql", SERVER_URL, "-qc", f'CREATE DATABASE "{name}"'], REPO)
    try:
        yield f"{base}/{name}"
    finally:
        run(["psql", SERVER_URL, "-qc", f'DROP DATABASE "{name}" WITH (FORCE)'], REPO)


@contextmanager
def server(argv: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[int]:
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def load(
    url: str, seconds: int, connections: int, headers: dict[str, str] | None = None
) -> tuple[float, float]:
    header_arguments = [f"--header={name}: {value}" for name, value in (headers or {}).items()]
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *header_arguments, url]
    out = run(argv, REPO)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99_ms = float(p99) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out:
        sys.exit(f"non-2xx responses from {url}:\n{out}")
    return rps, p99_ms


def measure(
    url: str, arguments: argparse.Namespace, headers: dict[str, str] | None = None
) -> tuple[float, float]:
    """Warm up for 2 s, then load for the measured run."""
    load(url, 2, arguments.connections, headers)
    return load(url, arguments.seconds, arguments.connections, headers)


BODY = {
    "customer_id": "bench",
    "currency": "EUR",
    "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 100}],
}
# Large enough never to refuse a call in the run: the limiter's cost is measured, not its 429s.
UNLIMITED = {"RATE_LIMIT_PER_CALLER": "1000000000/minute", "RATE_LIMIT_PER_IP": "1000000000/minute"}
JWT_SECRET = "benchmark-only-secret-0123456789abcdefghijklmnop"  # noqa: S105 - a throwaway run


def bake(auth: str, output: Path, env: dict[str, str]) -> Path:
    """The default project with ``auth``, synced without dev tools, migrated."""
    project = Path(
        cookiecutter(str(REPO), no_input=True, output_dir=str(output), extra_context={"auth": auth})
    )
    run(["uv", "sync", "--no-dev", "--quiet"], project, env)
    run(["uv", "run", "--no-dev", "orders-service", "migrate", "upgrade"], project, env)
    return project


def credentials(auth: str, project: Path, env: dict[str, str]) -> dict[str, str]:
    """The headers of a caller that may read and write orders."""
    if auth == "none":
        return {}
    argv = ["uv", "run", "--no-dev", "orders-service", "issue-token", "--subject", "bench"]
    argv += ["--scope", "orders:read", "--scope", "orders:write", "--ttl-seconds", "3600"]
    return {"Authorization": f"Bearer {run(argv, project, env).strip()}"}


def measure_service(
    auth: str, scratch: Path, env: dict[str, str], arguments: argparse.Namespace
) -> tuple[tuple[float, float, float], str]:
    """(req/s, p99, peak RSS) of the service baked with ``auth``, and the path it read."""
    project = bake(auth, scratch / auth, env)
    port = free_port()
    headers = credentials(auth, project, env)
    python = str(project / ".venv/bin/python")
    service_env = env | {"HTTP_PORT": str(port)}
    with server([python, "-m", "orders_service", "serve"], project, service_env, port) as pid:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/orders",
            json.dumps(BODY).encode(),
            {"content-type": "application/json", **headers},
        )
        order_id = json.load(urllib.request.urlopen(request))["id"]  # noqa: S310 - http on loopback
        path = f"/v1/orders/{order_id}"
        rps, p99 = measure(f"http://127.0.0.1:{port}{path}", arguments, headers)
        return (rps, p99, rss_mib(pid)), path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp, database() as database_url:
        scratch = Path(tmp)
        env = os.environ | {
            "DATABASE_URL": database_url,
            "LOG_REQUESTS": "false",
            "JWT_SECRET": JWT_SECRET,
            **UNLIMITED,
        }
        results: dict[str, tuple[float, float, float]] = {}
        results["generated, auth=none"], path = measure_service("none", scratch, env, arguments)
        results["generated, auth=jwt"], _ = measure_service("jwt", scratch, env, arguments)
        python = str(scratch / "jwt" / "orders-service" / ".venv/bin/python")
        bare = free_port()
        baseline = [
            python,
            "-m",
            "uvicorn",
            "baseline_app:app",
            "--port",
            str(bare),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--app-dir",
            str(REPO / "benchmarks"),
        ]
        with server(baseline, scratch, env, bare) as pid:
            rps, p99 = measure(f"http://127.0.0.1:{bare}{path}", arguments)
            results["bare FastAPI + asyncpg"] = (rps, p99, rss_mib(pid))

    print(f"GET /v1/orders/{{id}}, {arguments.connections} connections, {arguments.seconds} s each")
    for name, (rps, p99, rss) in results.items():
        print(f"  {name:<24} {rps:9.0f} req/s   p99 {p99:7.1f} ms   peak RSS {rss:6.1f} MiB")
    b_rps, b_p99, b_rss = results.pop("bare FastAPI + asyncpg")
    for name, (rps, p99, rss) in results.items():
        print(
            f"  {name} / bare: throughput {rps / b_rps:.2f}x, p99 {p99 / b_p99:.2f}x, "
            f"RSS {rss / b_rss:.2f}x"
        )


if __name__ == "__main__":
    main()
