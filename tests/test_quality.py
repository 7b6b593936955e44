"""The template's own code (hooks and tests) is held to the bar it sets for projects."""

from __future__ import annotations

import subprocess
import sys

import pytest
from harness.template import README, REPO_ROOT

TEST_COMMAND = "uv run pytest"


@pytest.mark.parametrize(
    "tool",
    [
        ["ruff", "check", "--output-format", "concise"],
        ["ruff", "format", "--check"],
        ["mypy"],
    ],
    ids=" ".join,
)
def test_template_code_is_clean(tool: list[str]) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", *tool],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_ci_runs_the_readme_test_command() -> None:
    readme_lines = README.read_text(encoding="utf-8").splitlines()
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert TEST_COMMAND in readme_lines, f"README.md no longer shows `{TEST_COMMAND}`"
    assert TEST_COMMAND in [line.strip() for line in ci_lines], (
        f".ci/run does not run `{TEST_COMMAND}`, the README's test command"
    )
