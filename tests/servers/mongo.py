"""A MongoDB wire server for the ``database: mongo`` variants.

The baked projects' tests talk to ``MONGODB_URL`` (default: 127.0.0.1:27017 with
``directConnection=true``). When nothing listens there, the harness starts
SecantusDB, a MongoDB-wire-compatible server from PyPI that runs as a one-node
replica set with transactions, for the length of the run. SecantusDB is GPL-2.0:
it stays in the template's own test tooling and no generated project depends on
it. Its wheel is for CPython 3.11, so it runs from that interpreter's
``secantusd-py`` (``python3.11 -m pip install SecantusDB``, as ``.ci/run`` does)
or, failing that, through ``uv tool run --python 3.11``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from servers.background import HOST, BackgroundServer, configured_port

PORT_VARIABLE = "TEMPLATE_MONGO_PORT"
STANDARD_PORT = 27017


def secantus_command(port: int, _directory: Path) -> list[str]:
    installed = shutil.which("secantusd-py")
    if installed is not None:
        executable = [installed]
    else:
        uv = os.environ.get("UV") or shutil.which("uv") or "uv"
        executable = [uv, "tool", "run", "--python", "3.11", "--from", "SecantusDB", "secantusd-py"]
    return [*executable, "--host", HOST, "--port", str(port), "--storage-path", ":memory:"]


SERVER = BackgroundServer(
    name="SecantusDB",
    port=configured_port(PORT_VARIABLE, STANDARD_PORT),
    standard_port=STANDARD_PORT,
    command=secantus_command,
    hint=(
        "install it with `python3.11 -m pip install SecantusDB`, "
        "or start a MongoDB replica set there"
    ),
)
