"""The README sections that are generated from the template's own sources.

``uv run python tests/regenerate/readme.py`` rewrites them in README.md; the tests fail when
README.md differs from what this renders, so the docs cannot drift from
``cookiecutter.json`` or from the hooks' rules table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for harness

from harness.hook_modules import answer_rules
from harness.template import README, cookiecutter_json, questions

_REFERENCE = re.compile(r"cookiecutter\.(\w+)")


def questions_markdown() -> str:
    """One row per question: its name, its wording, and its choices or default."""
    prompts = cookiecutter_json().get("__prompts__", {})
    lines = ["| question | asks | choices (first is the default) |", "|---|---|---|"]
    for name, default in questions().items():
        prompt = prompts.get(name, "")
        if isinstance(default, list):
            wording = prompt.get("__prompt__", "") if isinstance(prompt, dict) else str(prompt)
            labels = prompt if isinstance(prompt, dict) else {}
            cell = "<br>".join(
                f"`{choice}`: {labels[choice]}" if choice in labels else f"`{choice}`"
                for choice in default
            )
        else:
            wording = str(prompt)
            derived = _REFERENCE.findall(str(default))
            if derived:
                cell = "derived from " + ", ".join(f"`{ref}`" for ref in dict.fromkeys(derived))
            else:
                cell = f"default `{default}`"
        lines.append(f"| `{name}` | {wording} | {cell} |")
    return "\n".join(lines)


SECTIONS = {
    "questions": questions_markdown,
    "answer-rules": answer_rules.markdown,
}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def section(text: str, name: str) -> str | None:
    """The text between a section's markers, without the surrounding newlines."""
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def render(text: str) -> str:
    """README text with every generated section replaced by its current content."""
    for name, content in SECTIONS.items():
        start, end = markers(name)
        if section(text, name) is None:
            raise ValueError(f"README.md needs exactly one {start} ... {end} pair")
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = f"{before}{start}\n{content()}\n{end}{after}"
    return text


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {README}")
