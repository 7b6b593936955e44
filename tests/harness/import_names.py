"""The top-level import names a baked project's environment holds.

A package_name equal to any of them shadows that module inside the project (its
CLI then dies importing ``redis.cli``), so the hook reserves every one. They are
read from a synced project's own venv: its dependencies, its dev group and what
those pull in, by import name (PyJWT installs ``jwt``, grpcio ``grpc``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from harness.hook_modules import answer_rules

# Rewrites hooks/reserved_names.json from freshly baked variants.
REGENERATE_COMMAND = "uv run python tests/regenerate/reserved_names.py"
_PRINT_NAMES = (
    "import importlib.metadata, json; "
    "print(json.dumps(sorted(importlib.metadata.packages_distributions())))"
)


def installed_import_names(project: Path, uv: str, env: Mapping[str, str]) -> set[str]:
    """Every top-level import name of the distributions in the project's synced venv."""
    completed = subprocess.run(
        [uv, "run", "--no-sync", "python", "-c", _PRINT_NAMES],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    names: list[str] = json.loads(completed.stdout)
    return set(names)


def reservable(names: Iterable[str], package: str) -> set[str]:
    """The names a package_name answer could take, the project's own package excepted."""
    return {name for name in names if answer_rules.is_package_identifier(name) and name != package}
