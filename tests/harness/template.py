"""The template's files and its questions, read from ``cookiecutter.json``.

Every question whose default is a list is a choice; the tests derive the variant
matrix from that, so a choice added there needs no edit to the tests.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

REPO_ROOT = Path(__file__).resolve().parents[2]
HOOKS_DIR = REPO_ROOT / "hooks"
COOKIECUTTER_JSON = REPO_ROOT / "cookiecutter.json"
README = REPO_ROOT / "README.md"
# The generated project's Jinja source.
PROJECT_TEMPLATE = REPO_ROOT / "{{cookiecutter.project_slug}}"

Answers = dict[str, str]

# cookiecutter makes the template's Jinja extensions (local_extensions.py, named in
# cookiecutter.json) importable while it renders; pytest-cookies and rendered_answers()
# render the questions outside of it, so the repository's root goes on the path.
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))


def cookiecutter_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))
    return data


def questions() -> dict[str, Any]:
    """Every question with its raw default, in the order cookiecutter asks them."""
    return {key: value for key, value in cookiecutter_json().items() if not key.startswith("_")}


def choice_questions() -> dict[str, list[str]]:
    """The questions answered by picking from a list, with their choices."""
    return {
        key: [str(choice) for choice in value]
        for key, value in questions().items()
        if isinstance(value, list)
    }


def rendered_answers(extra_context: Mapping[str, str] | None = None) -> Answers:
    """The answers cookiecutter would use with --no-input: defaults rendered, overrides applied."""
    context = generate_context(
        context_file=str(COOKIECUTTER_JSON), extra_context=dict(extra_context or {})
    )
    rendered: dict[str, Any] = prompt_for_config(context, no_input=True)
    return {key: str(value) for key, value in rendered.items() if not key.startswith("_")}
