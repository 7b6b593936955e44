"""The environment a baked project's commands run in: the harness's own stripped out.

The harness runs inside its own virtualenv and pytest; a baked project must
resolve its own ``.venv`` and interpreter, never ours. Where the run moved a
server off its standard port, the project is told where it is.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from servers.background import HOST
from servers.registry import SERVERS

from harness.variants import required_servers

# Variables that belong to the harness's own environment, not to the baked project's.
HARNESS_VARIABLES = {
    "VIRTUAL_ENV",
    "UV_PROJECT_ENVIRONMENT",
    "PYTHONPATH",
    "PYTHONHOME",
    "UV_PYTHON",
}
HARNESS_PREFIXES = ("PYTEST_", "COV_CORE_")


def uv_path() -> str | None:
    """uv as the harness found it: ``$UV`` (set by ``uv run``) or on PATH."""
    return os.environ.get("UV") or shutil.which("uv")


def project_environment(python_version: str) -> dict[str, str]:
    """The harness's environment minus its own virtualenv and pytest state."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in HARNESS_VARIABLES and not key.startswith(HARNESS_PREFIXES)
    }
    if sys.prefix != sys.base_prefix:  # drop the template's own .venv/bin from PATH
        own_bin = str(Path(sys.prefix) / "bin")
        env["PATH"] = os.pathsep.join(
            entry for entry in env.get("PATH", "").split(os.pathsep) if entry != own_bin
        )
    env["UV_PYTHON"] = python_version
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # Let Python cache the bytecode of what it imports, so that the project's server
    # and worker subprocesses start from it. Cheaper than compiling the whole venv at
    # install (UV_COMPILE_BYTECODE): only what the tests import is ever compiled.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _server_urls(name: str, port: int, answers: Mapping[str, str]) -> dict[str, str]:
    """The variables the baked project's tests and settings read to reach server ``name``."""
    match name:
        case "postgres":
            database = answers["package_name"]  # the generated settings' default database
            return {"DATABASE_URL": f"postgresql://postgres:postgres@{HOST}:{port}/{database}"}
        case "mongo":
            database = answers["package_name"]
            return {"MONGODB_URL": f"mongodb://{HOST}:{port}/{database}?directConnection=true"}
        case "redis":
            url = f"redis://{HOST}:{port}/0"
            broker = {"BROKER_URL": url} if answers["queue"] == "redis" else {}
            return {"TEST_REDIS_URL": url, **broker}
        case "rabbitmq":
            return {"BROKER_URL": f"amqp://guest:guest@{HOST}:{port}/"}
        case "nats":
            return {"BROKER_URL": f"nats://{HOST}:{port}"}
        case "kafka":
            return {"BROKER_URL": f"kafka://{HOST}:{port}"}
    raise ValueError(f"no URL is known for the server {name!r}")


def server_environment(answers: Mapping[str, str]) -> dict[str, str]:
    """Where the variant's servers are, for each one a ``TEMPLATE_<NAME>_PORT`` moved.

    A server on its standard port is left to the generated settings' defaults, so
    that an ordinary run tests those defaults too.
    """
    env: dict[str, str] = {}
    for name in required_servers(answers):
        server = SERVERS[name]
        if server.port != server.standard_port:
            env |= _server_urls(name, server.port, answers)
    return env
