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
it under a file lock, detached into a process group of its own (so it outlives
that worker), and the controlling process stops the group when the run ends.
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
# Runs the command in the background with its output appended to a log ($0), and
# prints its pid; the shell exits at once, so the server is no child of ours.
_DETACH = '"$@" </dev/null >>"$0" 2>&1 & echo $!'


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


def _group_file(state_dir: Path) -> Path:
    return state_dir / "secantusd.pgid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ensure_running(state_dir: Path) -> None:
    """Make sure a server listens on HOST:PORT, starting SecantusDB if none does."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "mongo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if listening():
            return
        log_path = state_dir / "secantusd.log"
        options = ["--host", HOST, "--port", str(PORT), "--storage-path", ":memory:"]
        launched = subprocess.run(
            ["sh", "-c", _DETACH, str(log_path), *secantus_command(), *options],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            start_new_session=True,
        )
        pid = int(launched.stdout)
        _group_file(state_dir).write_text(str(os.getpgid(pid)), encoding="utf-8")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not listening():
            if not _alive(pid) or time.monotonic() > deadline:
                output = log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(
                    f"SecantusDB did not start listening on {HOST}:{PORT} "
                    "(install it with `python3.11 -m pip install SecantusDB`, or start "
                    f"a MongoDB replica set there):\n{output[-4000:]}"
                )
            time.sleep(0.2)


def stop_started(state_dir: Path) -> None:
    """Stop the server this run started, if it started one."""
    group_file = _group_file(state_dir)
    if not group_file.exists():
        return
    group = int(group_file.read_text(encoding="utf-8"))
    group_file.unlink()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)  # the server and any wrapper (uv) around it
        for _ in range(100):
            os.killpg(group, 0)  # raises ProcessLookupError once the group is gone
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)
