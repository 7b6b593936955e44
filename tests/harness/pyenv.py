"""Let uv see every interpreter pyenv holds, so each variant finds its python_version."""

from __future__ import annotations

import os
import shutil
import subprocess


def pyenv_version_list(current: str | None = None) -> str | None:
    """PYENV_VERSION naming every installed CPython release, ``current`` ones first.

    uv finds pyenv's interpreters only through its shims, and a shim works only for
    the versions PYENV_VERSION names. A pyenv shim (``uv`` installed with pip is one)
    sets PYENV_VERSION to the current version alone, so extend whatever is set.
    """
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    try:
        if not current:
            current = subprocess.run(
                [pyenv, "version-name"], capture_output=True, text=True, check=False, timeout=30
            ).stdout
        listed = subprocess.run(
            [pyenv, "versions", "--bare", "--skip-aliases"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    releases = [name for name in listed if _is_release(name)]
    releases.sort(key=lambda name: tuple(int(part) for part in name.split(".")), reverse=True)
    ordered = [name.strip() for name in current.split(":") if name.strip()] + releases
    return ":".join(dict.fromkeys(ordered)) or None


def _is_release(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 3 and all(part.isdigit() for part in parts)


def ensure_pyenv_version() -> None:
    versions = pyenv_version_list(os.environ.get("PYENV_VERSION"))
    if versions:
        os.environ["PYENV_VERSION"] = versions
