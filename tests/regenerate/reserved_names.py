"""Regenerate ``hooks/reserved_names.json``: every import name a generated project installs.

The pre-generation hook refuses a package_name that would shadow one of them,
and it runs where cookiecutter is installed, without the project's packages, so
it reads this list. The list is derived: this bakes enough variants to pick
every choice once (and the defaults on every other supported Python), syncs
each, and collects the top-level import names of its venv (dependencies, the
dev group and what they pull in). The variant tests fail when a baked venv holds
a name the list lacks: ``uv run python tests/regenerate/reserved_names.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for harness

from harness.hook_modules import answer_rules
from harness.import_names import REGENERATE_COMMAND, installed_import_names, reservable
from harness.project_env import project_environment, uv_path
from harness.pyenv import ensure_pyenv_version
from harness.template import REPO_ROOT, Answers, choice_questions, rendered_answers

TARGET = answer_rules.RESERVED_NAMES_FILE
PROBE = {"project_name": "Reserved Names Probe", "package_name": "reserved_names_probe"}


def families() -> list[Answers]:
    """Variants that together pick every choice of every question at least once."""
    choices = choice_questions()
    widest = max(len(options) for options in choices.values())
    rows = [
        {question: options[index % len(options)] for question, options in choices.items()}
        for index in range(widest)
    ]
    default = rendered_answers()["python_version"]
    others = [version for version in answer_rules.SUPPORTED_PYTHON if version != default]
    return rows + [rows[0] | {"python_version": version} for version in others]


def import_names(answers: Answers, output: Path, uv: str) -> set[str]:
    """Bake ``answers``, sync the project and read its venv's import names."""
    context = PROBE | answers
    project = Path(
        cookiecutter(str(REPO_ROOT), no_input=True, output_dir=str(output), extra_context=context)
    )
    python_version = rendered_answers(context)["python_version"]
    env = project_environment(python_version)
    sync = [uv, "sync", "--quiet", "--python", python_version]
    subprocess.run(sync, cwd=project, env=env, check=True, timeout=1200)
    return reservable(installed_import_names(project, uv, env), PROBE["package_name"])


def document(variants: list[Answers], names: set[str]) -> str:
    data = {
        "about": (
            "Top-level import names the generated project's venv holds in some variant; "
            "the pre-generation hook refuses them as package_name. "
            f"Written by `{REGENERATE_COMMAND}`; do not edit."
        ),
        "variants": variants,
        "import_names": sorted(names),
    }
    return json.dumps(data, indent=2) + "\n"


def main() -> None:
    uv = uv_path()
    if uv is None:
        sys.exit("uv is not on PATH")
    ensure_pyenv_version()
    variants = families()
    names: set[str] = set()
    with tempfile.TemporaryDirectory() as scratch:
        for index, answers in enumerate(variants):
            print(f"baking {answers}", flush=True)
            names |= import_names(answers, Path(scratch) / str(index), uv)
    TARGET.write_text(document(variants, names), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO_ROOT)}: {len(names)} import names")


if __name__ == "__main__":
    main()
