"""Split the whole matrix into stable shards of about equal cost, for several machines.

A Kafka variant costs several times a variant without a broker, so shards are
balanced by each variant's estimated seconds, not by count: the longest first,
each to the shard with the least so far (ties to the lower shard, then by id), so
the split depends only on the matrix and the cost table and every machine that
computes it gets the same one. The estimates come from ``variant_costs.json``:
a base time plus, for each choice, how much longer or shorter its variants ran
than average in a measured run (``tests/regenerate/variant_costs.py`` rewrites it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.template import Answers, choice_questions
from harness.variants import variant_id

COSTS_FILE = Path(__file__).with_name("variant_costs.json")
_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (counted from 1) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"a shard is K/N, for example 2/4, not {text!r}")
        index, count = int(match[1]), int(match[2])
        if not 1 <= index <= count:
            raise ValueError(f"shard {text!r}: K must be between 1 and N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def cost_table() -> dict[str, Any]:
    table: dict[str, Any] = json.loads(COSTS_FILE.read_text(encoding="utf-8"))
    return table


def estimated_seconds(answers: Mapping[str, str], table: Mapping[str, Any]) -> float:
    """The base time plus each chosen choice's measured difference from the average."""
    effects: Mapping[str, Mapping[str, float]] = table["choices"]
    extra = sum(effects.get(question, {}).get(answers[question], 0.0) for question in effects)
    return max(float(table["base_seconds"]) + extra, 1.0)


def heaviest_first(variants: Sequence[Answers], table: Mapping[str, Any]) -> list[Answers]:
    """``variants`` by estimated seconds, the longest first (then by id, so stable).

    Run in this order, parallel workers never end on a long variant started last
    while the others sit idle.
    """
    return sorted(
        variants, key=lambda answers: (-estimated_seconds(answers, table), variant_id(answers))
    )


def split(variants: Sequence[Answers], count: int, table: Mapping[str, Any]) -> list[list[Answers]]:
    """``variants`` dealt into ``count`` shards of about equal estimated seconds."""
    costs = {variant_id(answers): estimated_seconds(answers, table) for answers in variants}
    loads = [0.0] * count
    members: list[set[str]] = [set() for _ in range(count)]
    for answers in heaviest_first(variants, table):
        lightest = min(range(count), key=lambda shard: (loads[shard], shard))
        loads[lightest] += costs[variant_id(answers)]
        members[lightest].add(variant_id(answers))
    return [[answers for answers in variants if variant_id(answers) in shard] for shard in members]


def shard_variants(variants: Sequence[Answers], shard: Shard) -> list[Answers]:
    return split(variants, shard.count, cost_table())[shard.index - 1]


def fitted_table(seconds: Mapping[str, float], variants: Sequence[Answers]) -> dict[str, Any]:
    """A cost table from measured seconds per variant id: the mean, and each choice's
    mean difference from it (choices never measured count as average)."""
    measured = [
        (answers, seconds[variant_id(answers)])
        for answers in variants
        if variant_id(answers) in seconds
    ]
    if not measured:
        raise ValueError("no measured variant is in the matrix")
    base = sum(value for _, value in measured) / len(measured)
    choices: dict[str, dict[str, float]] = {}
    for question, options in choice_questions().items():
        for option in options:
            values = [value for answers, value in measured if answers[question] == option]
            if values:
                choices.setdefault(question, {})[option] = round(
                    sum(values) / len(values) - base, 1
                )
    return {"base_seconds": round(base, 1), "choices": choices}
