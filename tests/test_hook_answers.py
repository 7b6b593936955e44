"""Generated answers to the template's questions, as no one would type them by hand.

Every answer the rules accept bakes a project whose metadata reads back as
answered, which installs, imports and lints; every answer they refuse is named
and leaves nothing on disk. The rules table is the oracle: these tests find where
the template and the table disagree (a character the table lets through that
breaks a file, say).
"""

from __future__ import annotations

import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.command_line import run_cookiecutter
from harness.hook_modules import answer_rules
from harness.project_env import uv_path
from harness.template import rendered_answers
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from local_extensions import toml_string

Answers = dict[str, str]

# Free text, as a person or a paste might give it: any printable character of any
# script, quotes and backslashes included.
FREE_TEXT = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")),
        min_size=1,
        max_size=80,
    )
    .map(str.strip)
    .filter(bool)
)
# Anything a command line can carry.
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cn"), exclude_characters="\x00"), max_size=60
)

# cookiecutter makes the project's folder, named by the slug, before the hooks run: a
# slug naming no new folder ("", ".", "..") is refused by cookiecutter itself ("already
# exists"), and one holding a separator leaves the parent folders it made. Those are
# cookiecutter's answers, not the rules'; every other text reaches the rules.
FOLDER_NAME = ANY_TEXT.filter(lambda text: text.strip(".") and not set("/\\") & set(text))

ACCEPTED = st.fixed_dictionaries(
    {
        "project_name": st.from_regex(r"[A-Za-z][A-Za-z0-9 .&'-]{0,40}[A-Za-z0-9]", fullmatch=True),
        "project_slug": st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True),
        "description": FREE_TEXT,
        "author": FREE_TEXT,
        "email": st.emails(),
    }
)
# Each question answered either acceptably or with anything at all.
MIXED = st.fixed_dictionaries(
    {
        "project_name": st.one_of(ACCEPTED.map(lambda a: a["project_name"]), ANY_TEXT),
        "project_slug": st.one_of(ACCEPTED.map(lambda a: a["project_slug"]), FOLDER_NAME),
        "package_name": st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), ANY_TEXT),
        "email": st.one_of(st.emails(), ANY_TEXT),
    }
)


def with_package(answers: Answers) -> Answers:
    """The answers with the package name cookiecutter derives from the slug."""
    return {**answers, "package_name": answers["project_slug"].replace("-", "_")}


@contextmanager
def scratch() -> Iterator[Path]:
    """A folder of one example (hypothesis runs many examples in one test call)."""
    with tempfile.TemporaryDirectory(prefix="hook-answers-") as folder:
        yield Path(folder)


def run(command: list[str], cwd: Path) -> str:
    """Run ``command`` in ``cwd``; fail the example with its output if it fails."""
    completed = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, f"{' '.join(command)}:\n{completed.stdout}{completed.stderr}"
    return completed.stdout


@settings(max_examples=20, deadline=None, derandomize=True)
@given(MIXED)
def test_a_refused_answer_is_named_and_writes_nothing(answers: Answers) -> None:
    problems = answer_rules.violations(rendered_answers(answers))
    assume(problems)
    with scratch() as folder:
        exit_code, printed, output = run_cookiecutter(folder, answers)

        assert exit_code != 0, printed
        for problem in problems:
            assert problem in printed
        assert list(output.iterdir()) == []


# Each example bakes and installs a project (seconds): few of them, and no shrinking,
# which would take minutes; a failure prints the example as generated.
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ACCEPTED.map(with_package))
def test_an_accepted_answer_bakes_a_project_that_installs_imports_and_lints(
    answers: Answers,
) -> None:
    assume(not answer_rules.violations(rendered_answers(answers)))
    uv = uv_path()
    assert uv is not None, "uv is needed to install the baked project"
    with scratch() as folder:
        exit_code, printed, output = run_cookiecutter(folder, answers)
        assert exit_code == 0, printed
        project = output / answers["project_slug"]

        metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        assert metadata["project"]["description"] == answers["description"]
        assert metadata["project"]["authors"] == [
            {"name": answers["author"], "email": answers["email"]}
        ]
        run([uv, "sync", "--frozen", "--quiet"], project)
        package = answers["package_name"]
        run(
            [
                uv,
                "run",
                "--frozen",
                "python",
                "-c",
                f"import {package}.cli; {package}.cli.parser()",
            ],
            project,
        )
        run([uv, "run", "--frozen", "ruff", "check", "--quiet"], project)


@pytest.mark.parametrize(
    "text",
    ["Équipe 𫹶 (astral)", 'say "hi"', "back\\slash", "del\x7fete", "two\nlines", "tab\there"],
)
def test_free_text_is_quoted_for_toml_as_it_was_answered(text: str) -> None:
    assert tomllib.loads(f"key = {toml_string(text)}")["key"] == text
