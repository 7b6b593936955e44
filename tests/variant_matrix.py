"""Print the template CI's variant matrix as JSON: ``uv run python tests/variant_matrix.py``.

The first job of ``.github/workflows/template.yml`` runs this and hands the JSON to
``strategy.matrix`` of the next, so every variant the harness knows (the whole matrix:
core, other Pythons, edge answers) gets a job of its own and no variant is listed by
hand. Each entry names the servers its variant's tests talk to; the job starts those
and no others.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/, for harness

from harness.template import Answers, choice_questions, rendered_answers
from harness.variants import EDGE_ANSWERS, required_servers, variant_id, whole_matrix

Entry = dict[str, str | list[str]]


def job_name(answers: Mapping[str, str], python: str) -> str:
    """What a person reads in the list of jobs, e.g. ``rest postgres rabbitmq jwt py3.12``."""
    words = [answers[question] for question in choice_questions()]
    edge = ["edge-answers"] if set(answers) & set(EDGE_ANSWERS) else []
    return " ".join([*words, f"py{python}", *edge])


def entry(answers: Answers) -> Entry:
    """The variant's id (for ``--variant``), its job's name, its Python and its servers."""
    python = rendered_answers(answers)["python_version"]
    return {
        "id": variant_id(answers),
        "name": job_name(answers, python),
        "python": python,
        "servers": required_servers(answers),
    }


def ci_matrix() -> dict[str, list[Entry]]:
    """One entry per variant of the whole matrix, as ``strategy.matrix`` takes it."""
    return {"include": [entry(answers) for answers in whole_matrix()]}


def main() -> None:
    # One line: the workflow writes it to $GITHUB_OUTPUT as ``matrix=<json>``.
    print(json.dumps(ci_matrix(), separators=(",", ":")))


if __name__ == "__main__":
    main()
