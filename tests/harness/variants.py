"""Which variants the harness bakes: a pairwise covering array of the matrix, or all of it.

The matrix is the product of every choice question's choices in cookiecutter.json;
beside it, the default choices on every other supported Python and one variant
with edge answers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping

from harness.hook_modules import answer_rules
from harness.template import Answers, choice_questions, questions

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


def required_servers(answers: Mapping[str, str]) -> list[str]:
    """The servers a variant's tests talk to: its database, its broker, and Redis.

    Every variant shares rate limits and circuit breakers through Redis in its
    tests, whatever its broker; a broker named ``redis`` is that same server.
    """
    database = [answers["database"]]
    broker = [] if answers["queue"] in ("none", "redis") else [answers["queue"]]
    return [*database, "redis", *broker]


def whole_matrix() -> list[Answers]:
    """Every variant the template promises to test: the matrix, every other
    Python and the edge answers (what CI spreads over its runners)."""
    return [*matrix(), *python_variants(), *edge_variants()]


def variant_id(answers: Mapping[str, str]) -> str:
    """A test id that ``pytest -k`` can select on, e.g. ``-k 'api:rest and queue:none'``."""
    shown = [*choice_questions(), "python_version"]
    words = [f"{key}:{answers[key]}" for key in shown if key in answers]
    if set(answers) - set(shown):
        words.append("edge-answers")
    return "-".join(words)
