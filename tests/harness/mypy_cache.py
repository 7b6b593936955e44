"""A warm mypy cache handed from variant to variant within a run.

On a cold cache, ``mypy --strict`` spends most of its time in the dependencies
(SQLAlchemy, pydantic, grpc, ...), the same files in every variant. So each
variant starts from a copy of the cache the last variant of its Python left, and
leaves its own in turn. That is safe because mypy trusts no cached module blindly:
it compares each with its source (size, then hash, whatever the path) and with
its dependencies' interfaces, and checks again whatever differs between variants.
Every variant works on a copy of its own; the hand-over happens under a lock.

The first variant of each Python warms the cache alone: the others that reach
mypy before it leaves its cache wait for it (up to ``WARMING_WAIT_SECONDS``)
rather than each checking every dependency cold at once, which cost a run's
first wave of variants 50 s of CPU each on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

CACHES_DIR_VARIABLE = "TEMPLATE_MYPY_CACHES_DIR"
PROJECT_CACHE = ".mypy_cache"
# Longer than a cold mypy takes on a busy 2-core machine (about 55 s): a warming
# variant that died leaves the others to go on cold, not to hang.
WARMING_WAIT_SECONDS = 180.0
_POLL_SECONDS = 1.0


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _shared(python_version: str) -> Path | None:
    caches = os.environ.get(CACHES_DIR_VARIABLE)
    return None if caches is None else Path(caches) / python_version


def take(project: Path, python_version: str, *, wait_seconds: float = WARMING_WAIT_SECONDS) -> None:
    """Start ``project`` from the last cache a variant of ``python_version`` left.

    With none left yet, the first caller warms it (starts cold) and the others
    wait for it, for ``wait_seconds`` at most.
    """
    root = _shared(python_version)
    if root is None:
        return
    deadline = time.monotonic() + wait_seconds
    while True:
        with _locked(root):
            if (root / "latest").is_dir():
                shutil.copytree(root / "latest", project / PROJECT_CACHE, dirs_exist_ok=True)
                return
            if not (root / "warming").exists():
                (root / "warming").touch()
                return
        if time.monotonic() >= deadline:
            return
        time.sleep(_POLL_SECONDS)


def leave(project: Path, python_version: str) -> None:
    """Hand ``project``'s cache to the next variant of ``python_version``."""
    root = _shared(python_version)
    if root is None or not (project / PROJECT_CACHE).is_dir():
        return
    incoming = root / f"incoming-{os.getpid()}"
    shutil.rmtree(incoming, ignore_errors=True)
    shutil.copytree(project / PROJECT_CACHE, incoming)
    with _locked(root):
        shutil.rmtree(root / "latest", ignore_errors=True)
        incoming.rename(root / "latest")
