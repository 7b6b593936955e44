"""The rules every answer to the template's questions must satisfy.

This table is the single source of truth: the pre-generation hook enforces it,
the README documents it (``python hooks/answer_rules.py`` prints that section)
and the template's tests derive one rejected-answer case from every rule.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

Answers = Mapping[str, str]

SUPPORTED_PYTHON = ("3.12", "3.13")

# Names a generated package must not take: it would shadow a module the generated
# project imports (a dependency of some variant, its dev tools, or what they pull
# in), or collide with the project's own folders. The import names are read from
# the venvs of baked variants by tests/regenerate/reserved_names.py, never typed here.
RESERVED_NAMES_FILE = Path(__file__).with_name("reserved_names.json")
PROJECT_FOLDERS = frozenset({"src", "test", "tests"})


def dependency_import_names() -> frozenset[str]:
    """The top-level import names some variant of the generated project installs."""
    data = json.loads(RESERVED_NAMES_FILE.read_text(encoding="utf-8"))
    return frozenset(str(name) for name in data["import_names"])


RESERVED_PACKAGE_NAMES = dependency_import_names() | PROJECT_FOLDERS

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 .&'-]{0,79}")
_SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Rule:
    """One constraint on the answers, with the words a user needs to fix it."""

    answer: str
    requirement: str
    fix: str
    holds: Callable[[Answers], bool]
    rejected_example: Mapping[str, str]

    def message(self, answers: Answers) -> str:
        value = answers.get(self.answer, "")
        return f"{self.answer}={value!r} is not accepted: {self.requirement}. {self.fix}"


def is_package_identifier(name: str) -> bool:
    """Whether ``name`` is shaped like a package_name answer (lowercase identifier)."""
    return _PACKAGE.fullmatch(name) is not None


def _package_is_free(answers: Answers) -> bool:
    name = answers["package_name"]
    return (
        not keyword.iskeyword(name)
        and name not in sys.stdlib_module_names
        and name not in RESERVED_PACKAGE_NAMES
    )


RULES: tuple[Rule, ...] = (
    Rule(
        answer="project_name",
        requirement=(
            "it must start with a letter and hold at most 80 letters, digits, spaces "
            "and the marks . & ' -"
        ),
        fix="Answer with the name people will read, for example 'Orders Service'.",
        holds=lambda a: _NAME.fullmatch(a["project_name"]) is not None,
        rejected_example={"project_name": 'Orders "Service"'},
    ),
    Rule(
        answer="project_slug",
        requirement=(
            "it must be lowercase letters and digits in words joined by single hyphens, "
            "start with a letter and hold at most 50 characters"
        ),
        fix="Answer like 'orders-service'.",
        holds=lambda a: (
            _SLUG.fullmatch(a["project_slug"]) is not None and len(a["project_slug"]) <= 50
        ),
        rejected_example={"project_slug": "Orders_Service"},
    ),
    Rule(
        answer="package_name",
        requirement="it must be a lowercase Python identifier (letters, digits, underscores)",
        fix="Answer like 'orders_service'.",
        holds=lambda a: is_package_identifier(a["package_name"]),
        rejected_example={"package_name": "orders-service"},
    ),
    Rule(
        answer="package_name",
        requirement=(
            "it must not be a Python keyword, a standard-library module, a dependency "
            "of the generated project or one of its folders"
        ),
        fix="Choose a name of your own, for example 'orders_service'.",
        holds=_package_is_free,
        rejected_example={"package_name": "asyncio"},
    ),
    Rule(
        answer="email",
        requirement="it must look like an email address",
        fix="Answer like 'platform@example.com'.",
        holds=lambda a: _EMAIL.fullmatch(a["email"]) is not None,
        rejected_example={"email": "platform team"},
    ),
    Rule(
        answer="python_version",
        requirement=f"it must be one of {', '.join(SUPPORTED_PYTHON)}",
        fix="Answer with a supported minor version, for example '3.12'.",
        holds=lambda a: a["python_version"] in SUPPORTED_PYTHON,
        rejected_example={"python_version": "3.9"},
    ),
)


def violations(answers: Answers) -> list[str]:
    """Return one message per broken rule, in table order."""
    return [rule.message(answers) for rule in RULES if not rule.holds(answers)]


def markdown() -> str:
    """Render the table for the README, so the docs cannot drift from the hook."""
    lines = ["| answer | rule | how to fix |", "|---|---|---|"]
    lines += [
        f"| `{r.answer}` | {r.requirement[:1].upper()}{r.requirement[1:]}. | {r.fix} |"
        for r in RULES
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
