"""A project generated from an earlier commit of the template takes its later fixes.

The generated project records its template, commit and answers in ``.cruft.json``
(the post-generation hook writes it, as ``cruft create`` does), so that
``cruft update`` renders the template at both commits with the project's answers
and applies the difference, keeping the team's own edits. These tests do that
with a copy of this template as a git repository of its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from harness.command_line import run_cookiecutter, run_module, user_config
from harness.template import REPO_ROOT, rendered_answers

ANSWERS = {"project_slug": "kept-service"}
# A change of the template's next commit, and a change of the team's own.
TEMPLATE_LINE = "# A line the template's next commit adds.\n"
LOCAL_LINE = "\nA note the team added to its README.\n"


def git(cwd: Path, *arguments: str) -> str:
    """Run git in ``cwd``, failing the test on an error; what it printed."""
    completed = subprocess.run(
        ["git", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, f"git {' '.join(arguments)}:\n{completed.stderr}"
    return completed.stdout.strip()


def commit_all(repository: Path, message: str) -> str:
    """Commit everything in ``repository``; the new commit's id."""
    git(repository, "add", "--all")
    git(repository, "-c", "user.name=Test", "-c", "user.email=test@example.com",
        "commit", "--quiet", "--message", message)  # fmt: skip
    return git(repository, "rev-parse", "HEAD")


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """This template as it is in the working tree, copied into a repository of one commit."""
    listed = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    repository = tmp_path / "template"
    for relative in filter(None, listed.split("\0")):
        source = REPO_ROOT / relative
        if source.is_file():  # a file deleted from the working tree is listed too
            (repository / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repository / relative)
    git(repository, "init", "--quiet", "--initial-branch=main")
    commit_all(repository, "the template as generated from")
    return repository


def generated(tmp_path: Path, template: Path) -> Path:
    """A project generated with cookiecutter from ``template``, committed as its team would."""
    exit_code, printed, output = run_cookiecutter(tmp_path, ANSWERS, template)
    assert exit_code == 0, printed
    project = output / ANSWERS["project_slug"]
    commit_all(project, "generated")
    return project


def later_commit(template: Path) -> str:
    """Add ``TEMPLATE_LINE`` to the generated Makefile's top in a new template commit."""
    makefile = template / "{{cookiecutter.project_slug}}" / "Makefile"
    makefile.write_text(TEMPLATE_LINE + makefile.read_text(encoding="utf-8"), encoding="utf-8")
    return commit_all(template, "a later fix")


def test_the_project_records_its_template_commit_and_answers(
    tmp_path: Path, template: Path
) -> None:
    project = generated(tmp_path, template)

    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == str(template)
    assert state["commit"] == git(template, "rev-parse", "HEAD")
    recorded = state["context"]["cookiecutter"]
    for question, answer in rendered_answers(ANSWERS).items():
        assert recorded[question] == answer, question
    assert "_repo_dir" not in recorded, "the generating machine's paths are not recorded"
    checked = run_module("cruft", "check", cwd=project)
    assert checked.returncode == 0, checked.stdout


def test_an_update_brings_the_later_commit_and_keeps_the_teams_edits(
    tmp_path: Path, template: Path
) -> None:
    project = generated(tmp_path, template)
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + LOCAL_LINE, encoding="utf-8")
    commit_all(project, "the team's own edit")
    fixed = later_commit(template)

    updated = run_module("cruft", "update", "--skip-apply-ask", cwd=project)

    assert updated.returncode == 0, updated.stdout
    assert (project / "Makefile").read_text(encoding="utf-8").startswith(TEMPLATE_LINE)
    assert readme.read_text(encoding="utf-8").endswith(LOCAL_LINE)
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == fixed
    assert git(project, "status", "--porcelain", "--untracked-files=all").count("\n") == 1
    assert git(project, "diff", "--name-only", "HEAD").splitlines() == [".cruft.json", "Makefile"]


def test_cruft_create_generates_the_same_project(tmp_path: Path, template: Path) -> None:
    """``cruft create`` renders without cookiecutter's ``_repo_dir``: the hooks still run."""
    (tmp_path / "cruft").mkdir()
    created = run_module(
        "cruft",
        "create",
        str(template),
        "--no-input",
        "--config-file",
        str(user_config(tmp_path)),
        "--extra-context",
        json.dumps(ANSWERS),
        cwd=tmp_path / "cruft",
    )
    assert created.returncode == 0, created.stdout
    by_cruft = tmp_path / "cruft" / ANSWERS["project_slug"]
    by_cookiecutter = generated(tmp_path, template)

    assert files_of(by_cruft) == files_of(by_cookiecutter) - {".git"}
    state = json.loads((by_cruft / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == git(template, "rev-parse", "HEAD")


def files_of(project: Path) -> set[str]:
    """The project's top-level entries and every file outside ``.git``."""
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if ".git" not in path.relative_to(project).parts[:1] or path.name == ".git"
    }
