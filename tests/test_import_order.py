"""The template's Python is isort-clean as written, for the default names.

The post-generation hook sorts imports and formats only because longer names
can change the order; with the default names that pass must change nothing, so
a project baked without uvx (or offline) is as clean as one baked with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness.cookies import Cookies
from harness.template import REPO_ROOT

SKIP_RUFF_VARIABLE = "TEMPLATE_SKIP_RUFF"  # honoured by hooks/post_gen_project.py
# The defaults, and the other choice of every question where one differs most.
CHOICES = [
    {},
    {"api": "grpc", "database": "mongo", "queue": "kafka", "auth": "api_key"},
]


def ruff_isort(project: Path, *options: str) -> str:
    """What ``ruff check --select I`` reports under the project's own configuration."""
    completed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "I", "--no-cache", *options, "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return "" if completed.returncode == 0 else completed.stdout + completed.stderr


@pytest.mark.parametrize(
    "choices",
    CHOICES,
    ids=lambda choices: "-".join(f"{k}:{v}" for k, v in choices.items()) or "defaults",
)
def test_imports_are_sorted_without_the_post_gen_ruff_pass(
    cookies: Cookies, monkeypatch: pytest.MonkeyPatch, choices: dict[str, str]
) -> None:
    monkeypatch.setenv(SKIP_RUFF_VARIABLE, "1")
    result = cookies.bake(extra_context=choices, template=str(REPO_ROOT))
    assert result.exception is None, f"bake failed: {result.exception!r}"
    assert result.project_path is not None

    unsorted = ruff_isort(result.project_path, "--output-format", "concise")

    if unsorted:
        pytest.fail(
            "template sources whose imports ruff reorders with the default names; fix them "
            f"under {{{{cookiecutter.project_slug}}}}/:\n{unsorted}\n"
            + ruff_isort(result.project_path, "--diff"),
            pytrace=False,
        )
