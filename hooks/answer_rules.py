"""The rules every answer to the template's questions must satisfy.

This table is the single source of truth: the pre-generation hook enforces it,
the README documents it (``python hooks/answer_rules.py`` prints that section)
and the template's tests derive one rejected-answer case from every rule.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Answers = Mapping[str, str]

SUPPORTED_PYTHON = ("3.12", "3.13")

# Names a generated package must not take: they would shadow a dependency or a
# tool the generated project imports, or collide with its own folders.
RESERVED_PACKAGE_NAMES = frozenset(
    {
        "alembic",
        "asyncpg",
        "bson",
        "fastapi",
        "httpx",
        "gridfs",
        "mypy",
        "orjson",
        "pydantic",
        "pydantic_settings",
        "pymongo",
        "pytest",
        "ruff",
        "sqlalchemy",
        "starlette",
        "structlog",
        "uvicorn",
        "src",
        "test",
        "tests",
    }
)

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
        holds=lambda a: _PACKAGE.fullmatch(a["package_name"]) is not None,
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
