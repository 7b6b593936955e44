"""Servers the harness starts for a run when nothing listens on their port.

Several pytest-xdist workers may need one at once: the first starts it under a
file lock, detached into a process group of its own (so that it outlives that
worker), and the controlling process stops the group when the run ends. A
server that was already listening is used as it is and never stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
STATE_DIR_VARIABLE = "TEMPLATE_SERVERS_DIR"
# Runs the command in the background with its output appended to a log ($0), and
# prints its pid; the shell exits at once, so the server is no child of ours.
_DETACH = '"$@" </dev/null >>"$0" 2>&1 & echo $!'


def listening(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True)
class BackgroundServer:
    """A server started on ``HOST:port`` by ``command()`` when none listens there."""

    name: str
    port: int
    command: Callable[[], list[str]]
    hint: str
    start_timeout_seconds: float = 120.0

    def _group_file(self, state_dir: Path) -> Path:
        return state_dir / f"{self.name.lower()}.pgid"

    def ensure_running(self, state_dir: Path) -> None:
        """Make sure something listens on the port, starting this server if nothing does."""
        state_dir.mkdir(parents=True, exist_ok=True)
        with (state_dir / f"{self.name.lower()}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if listening(self.port):
                return
            log_path = state_dir / f"{self.name.lower()}.log"
            launched = subprocess.run(
                ["sh", "-c", _DETACH, str(log_path), *self.command()],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
                start_new_session=True,
            )
            pid = int(launched.stdout)
            self._group_file(state_dir).write_text(str(os.getpgid(pid)), encoding="utf-8")
            deadline = time.monotonic() + self.start_timeout_seconds
            while not listening(self.port):
                if not _alive(pid) or time.monotonic() > deadline:
                    output = log_path.read_text(encoding="utf-8", errors="replace")
                    raise RuntimeError(
                        f"{self.name} did not start listening on {HOST}:{self.port} "
                        f"({self.hint}):\n{output[-4000:]}"
                    )
                time.sleep(0.2)

    def stop_started(self, state_dir: Path) -> None:
        """Stop the server this run started, if it started one."""
        group_file = self._group_file(state_dir)
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
