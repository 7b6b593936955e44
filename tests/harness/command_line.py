"""The template's users' commands, run as they run them: cookiecutter and cruft, each in
a process of its own, with a cookiecutter configuration of the test's own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.template import REPO_ROOT

COMMAND_SECONDS = 300


def user_config(tmp_path: Path) -> Path:
    """A cookiecutter configuration that keeps clones and replays inside ``tmp_path``."""
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(tmp_path / 'cookiecutters'))}\n"
        f"replay_dir: {json.dumps(str(tmp_path / 'replay'))}\n",
        encoding="utf-8",
    )
    return config


def run_cookiecutter(
    tmp_path: Path, answers: Mapping[str, str], template: Path = REPO_ROOT
) -> tuple[int, str, Path]:
    """``cookiecutter <template> --no-input -o DIR key=value...``.

    Returns the exit code, everything it printed and the (pre-created) output folder.
    """
    output = tmp_path / "out"
    output.mkdir()
    completed = run_module(
        "cookiecutter",
        str(template),
        "--no-input",
        "--config-file",
        str(user_config(tmp_path)),
        "-o",
        str(output),
        *(f"{key}={value}" for key, value in answers.items()),
        cwd=tmp_path,
    )
    return completed.returncode, completed.stdout, output


def run_module(module: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <arguments>`` in ``cwd``, with its output (stderr in stdout)."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
