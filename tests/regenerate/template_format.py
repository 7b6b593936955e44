"""Sort the imports of the template's plain Python files and format them, as ruff would.

A file without ``{%`` tags renders by substitution alone, so it can be rendered
with the default names, fixed by ruff under the baked project's own
configuration, and turned back into the template: the post-generation ruff pass
then has nothing to do for the default names. Files with tags (the wiring
points) are listed for a hand edit: ``uv run python tests/regenerate/template_format.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for harness

from harness.template import PROJECT_TEMPLATE, REPO_ROOT, rendered_answers

PACKAGE_EXPRESSION = "{{ cookiecutter.package_name }}"
SLUG_EXPRESSION = "{{ cookiecutter.project_slug }}"


def _expressions() -> dict[str, str]:
    """Each substitution the plain files use, with its value for the default answers."""
    answers = rendered_answers()
    return {
        PACKAGE_EXPRESSION: answers["package_name"],
        SLUG_EXPRESSION: answers["project_slug"],
    }


def _render(text: str, expressions: dict[str, str]) -> str:
    for expression, value in expressions.items():
        text = text.replace(expression, value)
    return text


def _unrender(text: str, expressions: dict[str, str]) -> str:
    for expression, value in expressions.items():
        text = text.replace(value, expression)
    return text


def plain_sources() -> list[Path]:
    """Template Python files that render by substitution alone (no tag, no other expression)."""
    expressions = _expressions()
    plain = []
    for path in sorted(PROJECT_TEMPLATE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rest = _render(text, dict.fromkeys(expressions, ""))
        values_in_text = any(value in text for value in expressions.values())
        if "{%" not in text and "{{" not in rest and "{#" not in text and not values_in_text:
            plain.append(path)
    return plain


def _bake(output: Path) -> Path:
    """Every file of the template, rendered for the defaults, with no hook run."""
    return Path(
        cookiecutter(str(REPO_ROOT), no_input=True, output_dir=str(output), accept_hooks=False)
    )


def _ruff(project: Path, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--no-cache", "-q", "."],
        cwd=project,
        check=False,
        capture_output=True,
    )


def main() -> int:
    expressions = _expressions()
    package = expressions[PACKAGE_EXPRESSION]
    plain = plain_sources()
    changed: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch:
        project = _bake(Path(scratch))
        _ruff(project, "check", "--select", "I", "--fix")
        _ruff(project, "format")
        for source in plain:
            relative = source.relative_to(PROJECT_TEMPLATE)
            baked = project / _render(str(relative), {"{{cookiecutter.package_name}}": package})
            fixed = _unrender(baked.read_text(encoding="utf-8"), expressions)
            if fixed != source.read_text(encoding="utf-8"):
                source.write_text(fixed, encoding="utf-8")
                changed.append(relative)
        shutil.rmtree(project)
    for relative in changed:
        print(f"formatted {relative}")
    tagged = [
        path.relative_to(PROJECT_TEMPLATE)
        for path in sorted(PROJECT_TEMPLATE.rglob("*.py"))
        if path not in plain
    ]
    print(f"{len(tagged)} files with tags, to check by hand:", *tagged, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
