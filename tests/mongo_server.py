"""A MongoDB wire server for the ``database: mongo`` variants.

The baked projects' tests talk to ``MONGODB_URL`` (default: 127.0.0.1:27017 with
``directConnection=true``). When nothing listens there, the harness starts
SecantusDB, a MongoDB-wire-compatible server from PyPI that runs as a one-node
replica set with transactions, for the length of the run. SecantusDB is GPL-2.0:
it stays in the template's own test tooling and no generated project depends on
it. Its wheel is for CPython 3.11, so it runs from that interpreter's
``secantusd-py`` (``python3.11 -m pip install SecantusDB``, as ``.ci/run`` does)
or, failing that, through ``uv tool run --python 3.11``.

Several pytest-xdist workers may need the server at once: the first one starts
it under a file lock, and the controlling process stops it when the run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HOST = "127.0.0.1"
PORT = 27017
START_TIMEOUT_SECONDS = 120
STATE_DIR_VARIABLE = "TEMPLATE_SERVERS_DIR"

# The server this process started, held so that it is never collected while it runs.
_started: list[subprocess.Popen[bytes]] = []


def listening(host: str = HOST, port: int = PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def secantus_command() -> list[str]:
    installed = shutil.which("secantusd-py")
    if installed is not None:
        return [installed]
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    return [uv, "tool", "run", "--python", "3.11", "--from", "SecantusDB", "secantusd-py"]


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "secantusd.pid"


def ensure_running(state_dir: Path) -> None:
    """Make sure a server listens on HOST:PORT, starting SecantusDB if none does."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "mongo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if listening():
            return
        log_path = state_dir / "secantusd.log"
        options = ["--host", HOST, "--port", str(PORT), "--storage-path", ":memory:"]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*secantus_command(), *options],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _started.append(process)
        _pid_file(state_dir).write_text(str(process.pid), encoding="utf-8")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not listening():
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(
                    f"SecantusDB did not start listening on {HOST}:{PORT} "
                    "(install it with `python3.11 -m pip install SecantusDB`, or start "
                    f"a MongoDB replica set there):\n{output[-4000:]}"
                )
            time.sleep(0.2)


def stop_started(state_dir: Path) -> None:
    """Stop the server this run started, if it started one."""
    pid_file = _pid_file(state_dir)
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text(encoding="utf-8"))
    pid_file.unlink()
    owned = [process for process in _started if process.pid == pid]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # its own session: uv's wrapper and the server
        for _ in range(100):
            if owned and owned[0].poll() is not None:
                break
            if not owned:
                os.killpg(pid, 0)  # started by an xdist worker that has exited: not our child
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
    for process in owned:
        process.wait(timeout=30)
        _started.remove(process)
