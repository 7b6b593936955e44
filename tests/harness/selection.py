"""Which variants this run bakes: named ones, one shard of the whole matrix, or the default set.

With no option, a run bakes the pairwise covering array (the whole matrix when
``TEMPLATE_ALL_VARIANTS=1``), every other Python and the edge answers. ``--variant
ID`` picks entries of the whole matrix by id (one CI job each); ``--variant-shard
K/N`` takes the K-th of N balanced shards of it (one machine each).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.shards import Shard, shard_variants
from harness.template import Answers
from harness.variants import edge_variants, python_variants, variant_id, variants, whole_matrix


def selected_variants(ids: Sequence[str] = (), shard: Shard | None = None) -> list[Answers]:
    if ids and shard is not None:
        raise ValueError("name variants with --variant or take a shard, not both")
    if ids:
        return named_variants(ids)
    if shard is not None:
        return shard_variants(whole_matrix(), shard)
    return [*variants(), *python_variants(), *edge_variants()]


def named_variants(ids: Sequence[str]) -> list[Answers]:
    by_id = {variant_id(answers): answers for answers in whole_matrix()}
    unknown = [name for name in ids if name not in by_id]
    if unknown:
        raise ValueError(
            f"no variant has the id {', '.join(unknown)}; "
            "`uv run python tests/variant_matrix.py` lists every id"
        )
    return [by_id[name] for name in dict.fromkeys(ids)]
