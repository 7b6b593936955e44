"""What the tests know about the template, all of it read from the template itself.

The variant matrix comes from ``cookiecutter.json`` (every question whose default
is a list is a choice); the rules and the manifest are the hooks' own modules,
loaded by path because ``hooks/`` is not a package.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

REPO_ROOT = Path(__file__).resolve().parents[1]
HOOKS_DIR = REPO_ROOT / "hooks"
COOKIECUTTER_JSON = REPO_ROOT / "cookiecutter.json"
README = REPO_ROOT / "README.md"

Answers = dict[str, str]


def load_hook_module(name: str) -> ModuleType:
    """Import ``hooks/<name>.py`` by path (registered in sys.modules for dataclasses)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HOOKS_DIR / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load hooks/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:  # mypy reads the hooks through mypy_path = hooks
    import answer_rules
    import codegen_tools
    import manifest
else:
    answer_rules = load_hook_module("answer_rules")
    codegen_tools = load_hook_module("codegen_tools")
    manifest = load_hook_module("manifest")

__all__ = ["answer_rules", "codegen_tools", "manifest"]


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


# Set to 1 to bake and test the whole matrix instead of a covering array of it.
ALL_VARIANTS_VARIABLE = "TEMPLATE_ALL_VARIANTS"

Pair = tuple[tuple[str, str], tuple[str, str]]


def matrix() -> list[Answers]:
    """The product of every choice question's choices: the variant matrix."""
    choices = choice_questions()
    return [
        dict(zip(choices, combination, strict=True))
        for combination in itertools.product(*choices.values())
    ]


def pairs(answers: Mapping[str, str]) -> set[Pair]:
    """Every pair of (question, choice) that ``answers`` combines."""
    chosen = sorted((question, answers[question]) for question in choice_questions())
    return set(itertools.combinations(chosen, 2))


def covering_array() -> list[Answers]:
    """Variants that together combine every choice with every choice of each other question.

    Bugs live in how two choices meet (a broker with a database, an auth mode with
    an API), rarely in three at once, and the matrix grows as the product of the
    questions. So the harness bakes a pairwise covering array: the product of the
    two largest questions, each row completed greedily with the choices that meet
    the most pairs not yet covered (ties go to the earlier choice, so the set is
    stable). The defaults are always the first row.
    """
    choices = choice_questions()
    largest = sorted(choices, key=lambda question: len(choices[question]), reverse=True)
    seeded, rest = largest[:2], largest[2:]
    uncovered = set().union(*(pairs(answers) for answers in matrix()))
    rows: list[Answers] = []
    for combination in itertools.product(*(choices[question] for question in seeded)):
        row = dict(zip(seeded, combination, strict=True))
        for question in rest:
            row[question] = _best_choice(row, question, choices[question], uncovered)
        ordered = {question: row[question] for question in choices}
        uncovered -= pairs(ordered)
        rows.append(ordered)
    if uncovered:  # not expected for the matrix we have; fail loudly rather than skip pairs
        raise AssertionError(f"the covering array misses {sorted(uncovered)}")
    defaults = {question: options[0] for question, options in choices.items()}
    return [defaults, *(row for row in rows if row != defaults)]


def _best_choice(
    row: Mapping[str, str], question: str, options: list[str], uncovered: set[Pair]
) -> str:
    """The option that meets the most uncovered pairs with ``row`` (the earliest on a tie)."""
    return max(
        options,
        key=lambda option: (_meets(row, question, option, uncovered), -options.index(option)),
    )


def _meets(row: Mapping[str, str], question: str, choice: str, uncovered: set[Pair]) -> int:
    candidate = (question, choice)
    return sum(
        tuple(sorted((candidate, (other, value)))) in uncovered for other, value in row.items()
    )


def variants() -> list[Answers]:
    """The variants the harness bakes: a covering array, or the whole matrix on request."""
    if os.environ.get(ALL_VARIANTS_VARIABLE) == "1":
        return matrix()
    return covering_array()


def python_variants() -> list[Answers]:
    """The default choices on every other supported Python, so each one is baked and tested."""
    default = str(questions()["python_version"])
    first = matrix()[0]
    return [
        first | {"python_version": version}
        for version in answer_rules.SUPPORTED_PYTHON
        if version != default
    ]


# Answers at the edge of what the rules accept: the longest slug and package name, and
# text full of characters that TOML, JSON, Python and Markdown treat specially.
EDGE_ANSWERS: Answers = {
    "project_name": "Northwind Wholesale Order & Fulfilment Integration's API",
    "project_slug": "northwind-wholesale-order-fulfilment-integration-x",
    "package_name": "northwind_wholesale_order_fulfilment_integration_x",
    "description": 'Keeps "orders" in step \\ with <ERP> & ünïcode \u2014 {not a template}.',
    "author": "O'Brien & Søn",
}


def edge_variants() -> list[Answers]:
    """The last feature of every question (the last choice that is not ``none``), with the
    edge answers, so that long names run through as much generated code as possible."""
    last = {
        question: next((c for c in reversed(choices) if c != "none"), choices[-1])
        for question, choices in choice_questions().items()
    }
    return [last | EDGE_ANSWERS]


def variant_id(answers: Mapping[str, str]) -> str:
    """A test id that ``pytest -k`` can select on, e.g. ``-k 'api:rest and queue:none'``."""
    shown = [*choice_questions(), "python_version"]
    words = [f"{key}:{answers[key]}" for key in shown if key in answers]
    if set(answers) - set(shown):
        words.append("edge-answers")
    return "-".join(words)


def rendered_answers(extra_context: Mapping[str, str] | None = None) -> Answers:
    """The answers cookiecutter would use with --no-input: defaults rendered, overrides applied."""
    context = generate_context(
        context_file=str(COOKIECUTTER_JSON), extra_context=dict(extra_context or {})
    )
    rendered: dict[str, Any] = prompt_for_config(context, no_input=True)
    return {key: str(value) for key, value in rendered.items() if not key.startswith("_")}


class BakeResult(Protocol):
    """The part of pytest-cookies' Result the tests use (the plugin ships no types)."""

    exception: BaseException | None
    exit_code: int | str | None
    context: dict[str, Any] | None

    @property
    def project_path(self) -> Path | None: ...


class Cookies(Protocol):
    """pytest-cookies' ``cookies`` fixture."""

    def bake(
        self, extra_context: dict[str, Any] | None = None, template: str | None = None
    ) -> BakeResult: ...


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
