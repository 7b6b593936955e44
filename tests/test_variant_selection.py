"""Which variants the harness bakes: every pair of choices at least once, defaults first;
or named ones; or one of several shards of the whole matrix, balanced by cost."""

from __future__ import annotations

import itertools

import pytest
from harness.selection import selected_variants
from harness.shards import Shard, estimated_seconds, fitted_table, shard_variants, split
from harness.template import choice_questions
from harness.variants import (
    ALL_VARIANTS_VARIABLE,
    covering_array,
    matrix,
    pairs,
    variant_id,
    variants,
    whole_matrix,
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


def test_shards_split_the_whole_matrix_into_disjoint_parts_that_cover_it() -> None:
    every = [variant_id(answers) for answers in whole_matrix()]

    shards = [
        [variant_id(a) for a in shard_variants(whole_matrix(), Shard(k, 4))] for k in range(1, 5)
    ]

    assert sorted(itertools.chain.from_iterable(shards)) == sorted(every)
    assert all(shards)


def test_shards_are_balanced_by_cost_not_by_count() -> None:
    # Kafka variants cost three times the others: equal counts would not be equal time.
    table = {"base_seconds": 100.0, "choices": {"queue": {"kafka": 200.0}}}

    shards = split(whole_matrix(), 4, table)

    loads = [sum(estimated_seconds(answers, table) for answers in shard) for shard in shards]
    assert max(loads) - min(loads) <= 300.0  # within one of the costliest variants
    counts = [len(shard) for shard in shards]
    assert max(counts) > min(counts)


def test_a_shard_is_the_same_on_every_machine_and_in_matrix_order() -> None:
    first = shard_variants(whole_matrix(), Shard(2, 3))

    assert first == shard_variants(whole_matrix(), Shard(2, 3))
    order = [variant_id(answers) for answers in whole_matrix()]
    positions = [order.index(variant_id(answers)) for answers in first]
    assert positions == sorted(positions)


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/0"])
def test_a_malformed_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"shard|K/N"):
        Shard.parse(text)


def test_named_variants_are_taken_from_the_whole_matrix_and_unknown_ones_refused() -> None:
    kafka = next(answers for answers in matrix() if answers["queue"] == "kafka")

    assert selected_variants([variant_id(kafka)]) == [kafka]
    with pytest.raises(ValueError, match="no variant has the id nope"):
        selected_variants(["nope"])
    with pytest.raises(ValueError, match="not both"):
        selected_variants([variant_id(kafka)], Shard(1, 2))


def test_the_cost_table_is_fitted_from_measured_seconds() -> None:
    seconds = {
        variant_id(answers): 300.0 if answers["queue"] == "kafka" else 100.0 for answers in matrix()
    }

    table = fitted_table(seconds, matrix())

    kafka = next(answers for answers in matrix() if answers["queue"] == "kafka")
    nats = next(answers for answers in matrix() if answers["queue"] == "nats")
    assert estimated_seconds(kafka, table) == pytest.approx(300.0, abs=0.5)
    assert estimated_seconds(nats, table) == pytest.approx(100.0, abs=0.5)
    assert table["choices"]["api"] == {"rest": 0.0, "grpc": 0.0}
