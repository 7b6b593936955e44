"""Which variants the harness bakes: every pair of choices at least once, defaults first."""

from __future__ import annotations

import itertools

import pytest
from harness.template import choice_questions
from harness.variants import (
    ALL_VARIANTS_VARIABLE,
    covering_array,
    matrix,
    pairs,
    variants,
)


def test_the_covering_array_combines_every_choice_with_every_other_questions_choices() -> None:
    choices = choice_questions()
    wanted = {
        ((first, a), (second, b))
        for first, second in itertools.combinations(sorted(choices), 2)
        for a in choices[first]
        for b in choices[second]
    }

    covered = set().union(*(pairs(answers) for answers in covering_array()))

    assert wanted <= covered


def test_the_covering_array_starts_with_the_defaults_and_is_smaller_than_the_matrix() -> None:
    rows = covering_array()

    assert rows[0] == {question: options[0] for question, options in choice_questions().items()}
    assert len(rows) == len({tuple(row.items()) for row in rows})
    assert len(rows) < len(matrix())


def test_the_whole_matrix_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALL_VARIANTS_VARIABLE, "1")

    assert variants() == matrix()
