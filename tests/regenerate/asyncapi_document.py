"""Regenerate the generated project's ``asyncapi.json`` from the code of every broker variant.

The document is the service's own output (a drift test in every baked project
compares the two). Between variants only the service's names and the broker's
addresses differ, so this bakes each broker once under marker names, asks the
service for its document and topology, and writes one Jinja template in which
those values are looked up by the queue answer:
``uv run python tests/regenerate/asyncapi_document.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for harness

from harness.template import REPO_ROOT, choice_questions

PROJECT = REPO_ROOT / "{{cookiecutter.project_slug}}"
TARGET = PROJECT / "asyncapi.json"
SLUG, PACKAGE, NAMESPACE = "zq-svc", "pk_zz", "pk-zz"
SLUG_EXPRESSION = "{{ cookiecutter.project_slug }}"
NAMESPACE_EXPRESSION = "{{ cookiecutter.package_name.replace('_', '-') }}"
# Prints the adapter's names for the marker namespace and the document's server.
_PROBE = """
import json
from {package}.container import broker_adapter
adapter = broker_adapter()
topology = adapter.topology("{namespace}")
print(json.dumps({{"events": topology.events, "consumer": topology.consumer,
    "dead_letters": topology.dead_letters, **adapter.asyncapi_server()}}))
"""


def _run(project: Path, *argv: str) -> str:
    command = ["uv", "run", "--quiet", *argv]
    return subprocess.run(command, cwd=project, check=True, capture_output=True, text=True).stdout


def _bake(queue: str, output: Path) -> Path:
    context = {"project_name": "Zq Svc", "package_name": PACKAGE, "queue": queue}
    return Path(
        cookiecutter(str(REPO_ROOT), no_input=True, output_dir=str(output), extra_context=context)
    )


def _variant(queue: str, output: Path) -> tuple[str, dict[str, str]]:
    project = _bake(queue, output)
    document = _run(project, SLUG, "asyncapi", "--output", "-")
    facts = json.loads(
        _run(project, "python", "-c", _PROBE.format(package=PACKAGE, namespace=NAMESPACE))
    )
    return document, facts


def template() -> str:
    """The Jinja template of ``asyncapi.json`` for every broker."""
    queues = [queue for queue in choice_questions()["queue"] if queue != "none"]
    with tempfile.TemporaryDirectory() as scratch:
        variants = {queue: _variant(queue, Path(scratch) / queue) for queue in queues}
    base_document, base_facts = variants[queues[0]]
    text = base_document
    for fact in ("dead_letters", "consumer", "events", "host", "protocol"):
        per_queue = {queue: facts[fact] for queue, (_, facts) in variants.items()}
        text = text.replace(f'"{base_facts[fact]}"', f'"{_jinja(per_queue)}"')
        text = text.replace(f'Consumer {base_facts[fact]}"', f'Consumer {_jinja(per_queue)}"')
    return text.replace(SLUG, SLUG_EXPRESSION).replace(NAMESPACE, NAMESPACE_EXPRESSION)


def _jinja(per_queue: dict[str, str]) -> str:
    """``per_queue`` as Jinja: one value, or a lookup by the queue answer."""
    if len(set(per_queue.values())) == 1:
        return next(iter(per_queue.values()))
    namespace = NAMESPACE_EXPRESSION.removeprefix("{{ ").removesuffix(" }}")

    def literal(value: str) -> str:
        if value.startswith(NAMESPACE):
            return f'{namespace} ~ "{value.removeprefix(NAMESPACE)}"'
        return f'"{value}"'

    table = ", ".join(f'"{queue}": {literal(value)}' for queue, value in per_queue.items())
    # ``get``: the file is rendered (then deleted) for queue=none too.
    return "{{ {" + table + '}.get(cookiecutter.queue, "") }}'


if __name__ == "__main__":
    TARGET.write_text(template(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO_ROOT)}")
