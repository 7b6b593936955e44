"""Regenerate the generated project's ``openapi.json`` from the app of every auth mode.

The document is the app's own output (a drift test in every baked REST project
compares the two). The auth modes change its shape (security schemes, 401 and
403 responses), so this bakes each mode once under marker names, asks the app
for its document, and writes one Jinja template holding a document per distinct
document (the bearer modes share one):
``uv run python tests/regenerate/openapi_document.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for harness

from harness.template import REPO_ROOT, choice_questions

PROJECT = REPO_ROOT / "{{cookiecutter.project_slug}}"
TARGET = PROJECT / "openapi.json"
NAME, SLUG, PACKAGE, DESCRIPTION = "Zq Svc", "zq-svc", "pk_zz", "Zq described."
MARKERS = {
    f'"{NAME}"': '"{{ cookiecutter.project_name }}"',
    f'"{DESCRIPTION}"': "{{ cookiecutter.description | tojson }}",
    SLUG: "{{ cookiecutter.project_slug }}",
}


def _document(auth: str, output: Path) -> str:
    context = {
        "project_name": NAME,
        "package_name": PACKAGE,
        "description": DESCRIPTION,
        "api": "rest",
        "queue": "none",
        "auth": auth,
    }
    project = Path(
        cookiecutter(str(REPO_ROOT), no_input=True, output_dir=str(output), extra_context=context)
    )
    command = ["uv", "run", "--quiet", SLUG, "openapi", "--output", "-"]
    return subprocess.run(command, cwd=project, check=True, capture_output=True, text=True).stdout


def template() -> str:
    """The Jinja template of ``openapi.json``: the document of the chosen auth mode."""
    modes = choice_questions()["auth"]
    with tempfile.TemporaryDirectory() as scratch:
        documents = {auth: _document(auth, Path(scratch) / auth) for auth in modes}
    modes_of: dict[str, list[str]] = {}  # modes with the same document share one block
    for auth, document in documents.items():
        modes_of.setdefault(document, []).append(auth)
    blocks = []
    for index, (document, same) in enumerate(modes_of.items()):
        for marker, expression in MARKERS.items():
            document = document.replace(marker, expression)
        keyword = "if" if index == 0 else "elif"
        condition = " or ".join(f'cookiecutter.auth == "{auth}"' for auth in same)
        blocks.append(f"{{% {keyword} {condition} -%}}\n{document.rstrip()}\n")
    return "".join(blocks) + "{% endif -%}\n"


if __name__ == "__main__":
    TARGET.write_text(template(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO_ROOT)}")
