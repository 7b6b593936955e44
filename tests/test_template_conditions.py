"""Every Jinja condition in the template names a choice that cookiecutter.json offers.

A typo such as ``cookiecutter.queue == "rabitmq"`` renders as false for every
variant and silently drops code; these tests fail on it with file:line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.template_conditions import (
    jinja_comparisons,
    jinja_findings,
    jinja_sources,
    offered_values,
    parse,
    python_findings,
    template_findings,
)

# The template compares answers about 175 times (its wiring points); far fewer seen
# means the reader broke.
FEWEST_COMPARISONS = 120


def test_every_template_condition_names_an_offered_choice() -> None:
    findings = template_findings()

    assert not findings, "conditions that can never match:\n" + "\n".join(map(str, findings))


def test_the_checker_reads_the_templates_conditions() -> None:
    seen = sum(len(jinja_comparisons(parse(source))) for _, source in jinja_sources())

    assert seen >= FEWEST_COMPARISONS


PLANTED = """\
name: ci
{%- raw %}
run: echo ${{ matrix.python }} {% if x %}
{%- endraw %}
{% if cookiecutter.queue == "rabitmq" %}typo{% endif %}
{% if cookiecutter.api != 'grpc' and "none" == cookiecutter.auth %}fine{% endif %}
{% if cookiecutter.auth in ("jwt", "oath2") %}typo in a tuple{% endif %}
{% if cookiecutter.database not in ['postgres', 'mongoo'] %}typo in a list{% endif %}
x = "{{ 'a' if cookiecutter.queue == 'kafak' else 'b' }}"
{{ cookiecutter.brokr }}
{% if cookiecutter.python_version == "3.9" %}never offered{% endif %}
"""


def test_a_planted_typo_is_found_with_its_file_and_line(tmp_path: Path) -> None:
    planted = tmp_path / "ci.yml"
    planted.write_text(PLANTED, encoding="utf-8")

    findings = jinja_findings(planted.read_text(encoding="utf-8"), "ci.yml", offered_values())

    assert [(finding.line, finding.problem.split(",")[0]) for finding in findings] == [
        (10, "cookiecutter.brokr is not a key of cookiecutter.json"),
        (5, "cookiecutter.queue is compared with 'rabitmq'"),
        (7, "cookiecutter.auth is compared with 'oath2'"),
        (8, "cookiecutter.database is compared with 'mongoo'"),
        (9, "cookiecutter.queue is compared with 'kafak'"),
        (11, "cookiecutter.python_version is compared with '3.9'"),
    ]
    assert str(findings[1]).startswith("ci.yml:5: ")
    assert "kafka" in findings[4].problem, "the message lists the offered choices"


def test_a_template_jinja_cannot_parse_is_a_finding() -> None:
    findings = jinja_findings("{% if cookiecutter.api == 'rest' %}", "broken.txt", offered_values())

    assert [(finding.path, finding.problem.split(":")[0]) for finding in findings] == [
        ("broken.txt", "Jinja cannot parse it")
    ]


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ('if ANSWERS["api"] == "grcp":\n    pass\n', "grcp"),
        ('if "nne" != ANSWERS["auth"]:\n    pass\n', "nne"),
        ('if ANSWERS["queue"] in ("nats", "rediss"):\n    pass\n', "rediss"),
    ],
)
def test_a_hook_comparing_an_answer_with_a_typo_is_found(source: str, value: str) -> None:
    findings = python_findings(source, "hooks/post_gen_project.py", offered_values())

    assert [(finding.line, repr(value) in finding.problem) for finding in findings] == [(1, True)]
