"""The environment a baked project's commands run in: the harness's own stripped out.

The harness runs inside its own virtualenv and pytest; a baked project must
resolve its own ``.venv`` and interpreter, never ours.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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
