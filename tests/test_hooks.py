"""The hooks: every answer rule rejects its example and writes nothing; the manifest
removes exactly the files of unselected choices; the docs show the same rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.environment import StrictEnvironment
from harness.command_line import run_cookiecutter
from harness.hook_modules import answer_rules, codegen_tools, manifest
from harness.import_names import REGENERATE_COMMAND
from harness.template import (
    HOOKS_DIR,
    README,
    REPO_ROOT,
    choice_questions,
    cookiecutter_json,
    questions,
    rendered_answers,
)
from regenerate.readme import questions_markdown, section
from regenerate.reserved_names import families

RULES = answer_rules.RULES


def rule_id(rule: answer_rules.Rule) -> str:
    return f"{rule.answer}:{next(iter(rule.rejected_example.values()))!r}"


def written(output: Path) -> list[str]:
    return sorted(str(path.relative_to(output)) for path in output.rglob("*"))


# --- the rules table --------------------------------------------------------------


def test_defaults_satisfy_every_rule() -> None:
    assert answer_rules.violations(rendered_answers()) == []


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_rejected_example_breaks_its_rule(rule: answer_rules.Rule) -> None:
    answers = rendered_answers(rule.rejected_example)
    assert not rule.holds(answers), f"{rule.rejected_example} does not break: {rule.requirement}"


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_rule_rejects_its_example_and_writes_nothing(
    tmp_path: Path, rule: answer_rules.Rule
) -> None:
    exit_code, printed, output = run_cookiecutter(tmp_path, rule.rejected_example)
    assert exit_code != 0, f"generation succeeded with {rule.rejected_example}:\n{printed}"
    assert f"{rule.answer}=" in printed, f"the error does not name {rule.answer!r}:\n{printed}"
    assert rule.requirement in printed, f"the error does not say what to fix:\n{printed}"
    assert written(output) == [], "a rejected answer left files on disk"


@pytest.mark.parametrize("question", list(choice_questions()))
def test_choice_outside_its_list_is_rejected_and_writes_nothing(
    tmp_path: Path, question: str
) -> None:
    bogus = "soap" if question == "api" else f"no-such-{question}"
    exit_code, printed, output = run_cookiecutter(tmp_path, {question: bogus})
    assert exit_code != 0, f"{question}={bogus} was accepted:\n{printed}"
    last_line = printed.strip().splitlines()[-1]
    assert bogus in last_line, f"the error does not name the answer:\n{printed}"
    assert question in last_line, f"the error does not name the question:\n{printed}"
    for choice in choice_questions()[question]:
        assert choice in last_line, f"the error does not list the choice {choice!r}:\n{printed}"
    assert written(output) == [], "a rejected answer left files on disk"


def test_defaults_bake(tmp_path: Path) -> None:
    exit_code, printed, output = run_cookiecutter(tmp_path, {})
    assert exit_code == 0, printed
    answers = rendered_answers()
    project = output / answers["project_slug"]
    assert project.is_dir(), f"no project at {project}: {written(output)}"
    assert [path.name for path in output.iterdir()] == [project.name]
    for relative in manifest.selected_paths(answers):
        assert (project / relative).exists(), relative
    for relative in manifest.unselected_paths(answers):
        assert not (project / relative).exists(), relative


# --- reserved package names ---------------------------------------------------------

# One import name per variant family, and the tools every variant installs: a
# package_name equal to any of them would shadow it inside the generated project.
DEPENDENCY_IMPORT_NAMES = [
    ("queue", "redis", "redis"),
    ("queue", "rabbitmq", "aio_pika"),
    ("queue", "rabbitmq", "aiormq"),
    ("queue", "kafka", "aiokafka"),
    ("queue", "nats", "nats"),
    ("queue", "rabbitmq", "cloudevents"),
    ("api", "grpc", "grpc"),
    ("api", "grpc", "grpc_health"),
    ("api", "grpc", "google"),
    ("api", "rest", "fastapi"),
    ("api", "rest", "uvicorn"),
    ("database", "postgres", "sqlalchemy"),
    ("database", "postgres", "asyncpg"),
    ("database", "postgres", "alembic"),
    ("database", "mongo", "pymongo"),
    ("database", "mongo", "bson"),
    ("database", "mongo", "gridfs"),
    ("auth", "jwt", "jwt"),
    ("auth", "oauth2", "jwt"),
    ("auth", "api_key", "limits"),
    ("auth", "none", "prometheus_client"),
    ("auth", "none", "pydantic_settings"),
    ("auth", "none", "pytest"),
    ("auth", "none", "mypy"),
    ("auth", "none", "ruff"),
]


@pytest.mark.parametrize(
    ("question", "choice", "name"),
    DEPENDENCY_IMPORT_NAMES,
    ids=[f"{question}={choice}:{name}" for question, choice, name in DEPENDENCY_IMPORT_NAMES],
)
def test_a_dependency_import_name_is_refused_as_package_name(
    question: str, choice: str, name: str
) -> None:
    answers = rendered_answers({question: choice, "package_name": name})

    refused = answer_rules.violations(answers)

    assert [message.split("=")[0] for message in refused] == ["package_name"], (
        f"package_name={name!r} is accepted with {question}={choice}: run `{REGENERATE_COMMAND}`"
    )


def test_every_derived_import_name_and_project_folder_is_refused() -> None:
    names = answer_rules.dependency_import_names() | answer_rules.PROJECT_FOLDERS
    defaults = rendered_answers()
    accepted = [
        name
        for name in sorted(names)
        if not answer_rules.violations(defaults | {"package_name": name})
    ]

    assert len(names) > len(DEPENDENCY_IMPORT_NAMES)
    assert accepted == []


def test_reserved_names_were_derived_from_the_variant_families_of_today() -> None:
    committed = json.loads(answer_rules.RESERVED_NAMES_FILE.read_text(encoding="utf-8"))

    assert committed["variants"] == families(), f"the choices changed: run `{REGENERATE_COMMAND}`"


def test_the_variant_families_pick_every_choice_and_every_python() -> None:
    picked = {(question, row[question]) for row in families() for question in choice_questions()}
    pythons = {rendered_answers(row)["python_version"] for row in families()}

    assert picked == {(q, c) for q, choices in choice_questions().items() for c in choices}
    assert pythons == set(answer_rules.SUPPORTED_PYTHON)


def test_the_regeneration_command_names_a_script_that_exists() -> None:
    assert (REPO_ROOT / REGENERATE_COMMAND.split()[-1]).is_file()


def test_the_cli_refuses_a_package_name_that_shadows_a_dependency(tmp_path: Path) -> None:
    exit_code, printed, output = run_cookiecutter(tmp_path, {"package_name": "redis"})

    assert exit_code != 0, printed
    assert "package_name='redis' is not accepted" in printed
    assert written(output) == []


# --- the manifest -----------------------------------------------------------------

FAKE_CHOICE_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "api": {
        "rest": ("openapi.json", "src/{package}/api/rest", "src/{package}/api/shared.py"),
        "grpc": ("proto", "src/{package}/api/grpc", "src/{package}/api/shared.py"),
    },
    "queue": {
        "none": (),
        "kafka": ("src/{package}/messaging/kafka", "tests/messaging/kafka"),
        "nats": ("src/{package}/messaging/nats",),
    },
}
FAKE_ANSWERS = {"package_name": "shop", "api": "rest", "queue": "none"}
FAKE_SELECTED = {"openapi.json", "src/shop/api/rest", "src/shop/api/shared.py"}
FAKE_UNSELECTED = {
    "proto",
    "src/shop/api/grpc",
    "src/shop/messaging/kafka",
    "tests/messaging/kafka",
    "src/shop/messaging/nats",
}


def test_manifest_names_every_choice_of_cookiecutter_json() -> None:
    table = {question: set(choices) for question, choices in manifest.CHOICE_PATHS.items()}
    expected = {question: set(choices) for question, choices in choice_questions().items()}
    assert table == expected


def test_manifest_splits_selected_and_unselected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest, "CHOICE_PATHS", FAKE_CHOICE_PATHS)
    assert manifest.selected_paths(FAKE_ANSWERS) == FAKE_SELECTED
    assert manifest.unselected_paths(FAKE_ANSWERS) == FAKE_UNSELECTED


def test_a_kept_path_inside_a_dropped_folder_goes_with_the_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {
        "database": {"postgres": ("src/{package}/storage/postgres",), "mongo": ()},
        "queue": {"none": (), "kafka": ("src/{package}/storage/postgres/outbox.py",)},
    }
    monkeypatch.setattr(manifest, "CHOICE_PATHS", table)
    on_mongo = {"package_name": "shop", "database": "mongo", "queue": "kafka"}
    on_postgres = {"package_name": "shop", "database": "postgres", "queue": "kafka"}

    assert manifest.selected_paths(on_mongo) == set()
    assert manifest.unselected_paths(on_mongo) == {"src/shop/storage/postgres"}
    assert manifest.selected_paths(on_postgres) == {
        "src/shop/storage/postgres",
        "src/shop/storage/postgres/outbox.py",
    }
    assert manifest.unselected_paths(on_postgres) == set()


def render_hook(name: str, context: Mapping[str, Any], template_dir: Path = REPO_ROOT) -> str:
    """The hook as cookiecutter renders it, its helpers taken from ``template_dir``."""
    source = (HOOKS_DIR / name).read_text(encoding="utf-8")
    environment = StrictEnvironment(context={"cookiecutter": dict(context)})
    environment.globals["template_dir"] = str(template_dir)  # what local_extensions provides
    rendered: str = environment.from_string(source).render(cookiecutter=dict(context))
    return rendered


def test_post_gen_hook_removes_exactly_the_unselected_paths(tmp_path: Path) -> None:
    # A copy of the template's hooks whose manifest carries the fake table.
    fake_repo = tmp_path / "repo"
    (fake_repo / "hooks").mkdir(parents=True)
    shutil.copy(HOOKS_DIR / "codegen_tools.py", fake_repo / "hooks")
    real_manifest = (HOOKS_DIR / "manifest.py").read_text(encoding="utf-8")
    (fake_repo / "hooks" / "manifest.py").write_text(
        f"{real_manifest}\n\nCHOICE_PATHS = {FAKE_CHOICE_PATHS!r}\n", encoding="utf-8"
    )
    context = {
        **rendered_answers(),
        **FAKE_ANSWERS,
        "api": "rest",
        "database": "postgres",
        "auth": "none",
    }
    hook = tmp_path / "post_gen_project.py"
    hook.write_text(render_hook("post_gen_project.py", context, fake_repo), encoding="utf-8")

    # A generated project holding the files of every choice, plus common ones.
    project = tmp_path / "project"
    for relative in [*FAKE_SELECTED, *FAKE_UNSELECTED, "README.md", "src/shop/main.py"]:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix:
            path.write_text("x", encoding="utf-8")
        else:
            path.mkdir(exist_ok=True)
            (path / "module.py").write_text("x", encoding="utf-8")
    before = {str(p.relative_to(project)) for p in project.rglob("*")}

    completed = subprocess.run(
        [sys.executable, str(hook)],
        cwd=project,
        env={"PATH": str(tmp_path / "no-tools")},  # no git: the optional step is skipped
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr

    after = {str(p.relative_to(project)) for p in project.rglob("*")}
    expected_removed = {
        path
        for path in before
        if any(path == root or path.startswith(f"{root}/") for root in FAKE_UNSELECTED)
    }
    # A folder whose every entry went goes too (up the tree), so no empty folder is left.
    gone = set(expected_removed)
    while emptied := {
        folder
        for folder in before - gone
        if (contents := {p for p in before if p.startswith(f"{folder}/")}) and contents <= gone
    }:
        gone |= emptied
    assert before - after == gone
    assert after - before == set()


# --- bake-time code generation (api=grpc) ------------------------------------------


def test_the_template_runs_the_generators_the_project_pins() -> None:
    own = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    own_pins = dict(
        requirement.split("==", 1)
        for requirement in own["dependency-groups"]["dev"]
        if "==" in requirement
    )

    assert codegen_tools.pinned_versions() == {
        name: own_pins[name] for name in codegen_tools.GENERATORS
    }
    assert not codegen_tools.problems(), "uv sync the template: its generators are missing"
    readme = README.read_text(encoding="utf-8")
    for name, pin in codegen_tools.pinned_versions().items():
        assert f"--with {name}=={pin}" in readme, f"README.md shows another {name} than {pin}"


def test_missing_generators_are_named_with_the_command_that_brings_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(codegen_tools, "version", not_installed)

    found = codegen_tools.problems()

    assert [problem.split("==")[0] for problem in found] == list(codegen_tools.GENERATORS)
    for name, pin in codegen_tools.pinned_versions().items():
        assert f"--with {name}=={pin}" in codegen_tools.install_hint()


def test_generators_run_beside_cookiecutter_or_through_uv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = Path("codegen.py")
    installed = codegen_tools.generator_command(script, "python3")
    monkeypatch.setattr(codegen_tools, "problems", lambda: ["grpcio-tools is not installed"])
    through_uv = codegen_tools.generator_command(script, "python3")
    monkeypatch.setattr("shutil.which", lambda _: None)
    impossible = codegen_tools.generator_command(script, "python3")

    assert installed == ["python3", "codegen.py"]
    assert through_uv is not None
    assert through_uv[1:4] == ["run", "--quiet", "--no-project"]
    for name, pin in codegen_tools.pinned_versions().items():
        assert f"{name}=={pin}" in through_uv
    assert through_uv[-2:] == ["python", "codegen.py"]
    assert impossible is None


# --- prompts and docs -------------------------------------------------------------


def test_every_question_and_choice_has_a_prompt() -> None:
    prompts = cookiecutter_json().get("__prompts__", {})
    missing: list[str] = []
    for question, default in questions().items():
        prompt = prompts.get(question)
        if isinstance(default, list):
            if not isinstance(prompt, dict) or not prompt.get("__prompt__"):
                missing.append(f"{question} (its __prompt__)")
                continue
            missing += [f"{question}={choice}" for choice in default if not prompt.get(choice)]
        elif not prompt:
            missing.append(question)
    assert not missing, f"__prompts__ lacks human wording for: {missing}"


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def test_readme_shows_the_rules_table_verbatim() -> None:
    assert section(readme_text(), "answer-rules") == answer_rules.markdown(), (
        "README.md's answer rules drifted: run `uv run python tests/regenerate/readme.py`"
    )


def test_readme_shows_the_questions_of_cookiecutter_json() -> None:
    assert section(readme_text(), "questions") == questions_markdown(), (
        "README.md's questions drifted: run `uv run python tests/regenerate/readme.py`"
    )
