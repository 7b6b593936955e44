"""Rewrite the cost table the shards are balanced by, from measured variant timings.

Run the variants with ``--variant-timings PATH`` (the whole matrix, or a shard of it
on each machine), then ``uv run python tests/regenerate/variant_costs.py PATH...``:
the table keeps the average variant's seconds and, for each choice, how much longer
or shorter its variants took, so that variants never measured still get an estimate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for harness

from harness.shards import COSTS_FILE, fitted_table
from harness.variants import whole_matrix


def measured_seconds(paths: list[Path]) -> dict[str, float]:
    """Seconds per variant id of every variant that passed in the given timings files."""
    seconds: dict[str, float] = {}
    for path in paths:
        for variant, timing in json.loads(path.read_text(encoding="utf-8")).items():
            if timing["result"] == "passed":
                seconds[variant] = float(timing["seconds"])
    return seconds


def main(arguments: list[str]) -> None:
    if not arguments:
        raise SystemExit(f"usage: {sys.argv[0]} TIMINGS.json [TIMINGS.json ...]")
    table = fitted_table(measured_seconds([Path(name) for name in arguments]), whole_matrix())
    COSTS_FILE.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    print(f"{COSTS_FILE}: base {table['base_seconds']} s, {len(table['choices'])} questions")


if __name__ == "__main__":
    main(sys.argv[1:])
