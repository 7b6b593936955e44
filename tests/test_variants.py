"""Every variant of the matrix: bake, check the tree, then lint, type-check and test it.

The matrix is the product of the choices in cookiecutter.json; a choice added there
is baked and tested here with no edit to this file.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from harness import mypy_cache
from harness.cookies import Cookies
from harness.hook_modules import answer_rules, manifest
from harness.import_names import REGENERATE_COMMAND, installed_import_names, reservable
from harness.project_env import project_environment, server_environment, uv_path
from harness.selection import selected_variants
from harness.shards import cost_table, heaviest_first
from harness.template import REPO_ROOT, choice_questions, rendered_answers
from harness.variant_report import first_line, record_failure, record_junit, timed
from harness.variants import required_servers, variant_id
from servers import registry
from servers.background import ServerUnavailableError

STEP_TIMEOUT_SECONDS = 20 * 60
TAIL_LINES = 80
# Unrendered Jinja: an expression, a statement or a comment. GitHub Actions'
# ``${{ ... }}`` is meant to survive rendering (inside {% raw %}), so it is allowed.
UNRENDERED = re.compile(rb"(?<!\$)\{\{|\{%|\{#")


def describe(answers: Mapping[str, str]) -> str:
    python = rendered_answers(answers)["python_version"]
    choices = [f"{key}={answers[key]}" for key in choice_questions()]
    edge = ["(edge answers)"] if set(answers) - {*choice_questions(), "python_version"} else []
    return " ".join([*choices, f"python={python}", *edge])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per selected variant (``harness.selection``), the costliest first."""
    if "choices" not in metafunc.fixturenames:
        return
    try:
        selected = selected_variants(
            metafunc.config.getoption("variant"), metafunc.config.getoption("variant_shard")
        )
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
    metafunc.parametrize(
        "choices",
        [
            pytest.param(
                answers,
                id=variant_id(answers),
                marks=pytest.mark.variant(describe(answers), variant_id(answers)),
            )
            for answers in heaviest_first(selected, cost_table())
        ],
    )


def uv_executable() -> str:
    found = uv_path()
    if found is None:
        pytest.fail("uv is not on PATH: install it with `python3 -m pip install uv`", pytrace=False)
    return found


def tail(output: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def run_step(
    node: pytest.Item, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> None:
    """Run one step in the baked project, timed; fail the test with its name and output tail."""
    with timed(node, name):
        completed = _run(name, argv, cwd, env)
    if completed.returncode != 0:
        record_failure(node, f"step {name!r}: {first_line(completed.stdout) or 'no output'}")
        pytest.fail(
            f"step {name!r} failed (exit {completed.returncode}): {' '.join(argv)}\n"
            f"--- last {TAIL_LINES} lines of output ---\n{tail(completed.stdout)}",
            pytrace=False,
        )


def _run(
    name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    command = " ".join(argv)
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=STEP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as timeout:
        partial = timeout.output or ""
        text = partial if isinstance(partial, str) else partial.decode(errors="replace")
        pytest.fail(
            f"step {name!r} timed out after {STEP_TIMEOUT_SECONDS}s: {command}\n{tail(text)}",
            pytrace=False,
        )
    return completed


def project_files(project: Path) -> list[Path]:
    """The files the project would commit: tool caches its .gitignore names are not ours."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=project,
        capture_output=True,
        check=True,
    )
    return sorted(project / name for name in listed.stdout.decode().split("\0") if name)


def unrendered_leftovers(project: Path) -> list[str]:
    """Paths and file lines that still hold Jinja syntax."""
    found: list[str] = []
    for path in project_files(project):
        relative = path.relative_to(project)
        if UNRENDERED.search(str(relative).encode()):
            found.append(f"path {relative}")
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if UNRENDERED.search(line):
                found.append(f"{relative}:{number}: {line.decode(errors='replace').strip()}")
    return found


def mypy_arguments(project: Path) -> list[str]:
    """`mypy` alone when the project configures its files, else its source and tests."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    configured = pyproject.get("tool", {}).get("mypy", {}).get("files")
    return [] if configured else ["src", "tests"]


def unreserved_import_names(
    project: Path, uv: str, env: Mapping[str, str], package: str
) -> list[str]:
    """Import names in the synced venv that the hook would still accept as package_name."""
    installed = reservable(installed_import_names(project, uv, env), package)
    return sorted(installed - answer_rules.RESERVED_PACKAGE_NAMES)


# Where the baked project's pytest writes its JUnit report: the slowest tests and the
# failures of the summary line come from there.
JUNIT_REPORT = ".pytest-junit.xml"


def ensure_servers(answers: Mapping[str, str], servers_dir: Path) -> None:
    """Start what the variant's tests talk to, or fail the variant at once saying why."""
    try:
        registry.ensure_running(required_servers(answers), servers_dir)
    except ServerUnavailableError as unavailable:
        pytest.fail(str(unavailable), pytrace=False)


def test_variant(
    cookies: Cookies, choices: dict[str, str], servers_dir: Path, request: pytest.FixtureRequest
) -> None:
    node = request.node
    with timed(node, "servers"):
        ensure_servers(choices, servers_dir)
    with timed(node, "bake"):
        result = cookies.bake(extra_context=dict(choices), template=str(REPO_ROOT))
    assert result.exception is None, f"bake failed: {result.exception!r}"
    project = result.project_path
    assert project is not None
    assert project.is_dir()
    assert result.context is not None
    answers = {key: str(value) for key, value in result.context.items() if not key.startswith("_")}

    leftovers = unrendered_leftovers(project)
    assert not leftovers, "unrendered Jinja in the baked project:\n" + "\n".join(leftovers)

    missing = sorted(p for p in manifest.selected_paths(answers) if not (project / p).exists())
    assert not missing, f"paths of the selected choices are missing: {missing}"
    stale = sorted(p for p in manifest.unselected_paths(answers) if (project / p).exists())
    assert not stale, f"paths of unselected choices were left behind: {stale}"

    python_version = answers["python_version"]
    env = project_environment(python_version) | server_environment(answers)
    uv = uv_executable()
    run_step(node, "uv sync", [uv, "sync", "--python", python_version], project, env)
    unreserved = unreserved_import_names(project, uv, env, answers["package_name"])
    assert not unreserved, (
        f"the venv holds import names a package_name may still take: {unreserved}; "
        f"run `{REGENERATE_COMMAND}` to reserve them"
    )

    steps: list[tuple[str, list[str]]] = [
        ("ruff", [uv, "run", "ruff", "check"]),
        ("format", [uv, "run", "ruff", "format", "--check"]),
        ("mypy", [uv, "run", "mypy", *mypy_arguments(project)]),
        ("git add", ["git", "add", "--all"]),  # pre-commit checks tracked files
        # The Dockerfile, compose file and workflows (the other hooks are the steps above).
        ("pre-commit", [uv, "run", "pre-commit", "run", "--all-files"]),
        ("pytest", [uv, "run", "pytest", f"--junit-xml={JUNIT_REPORT}"]),
    ]
    # ruff and mypy already ran as steps of their own; pre-commit adds the deployment checks.
    env["SKIP"] = "ruff,ruff-format,mypy"
    for name, argv in steps:
        if name == "mypy":
            mypy_cache.take(project, python_version)
        try:
            run_step(node, name, argv, project, env)
        finally:
            if name == "mypy":
                mypy_cache.leave(project, python_version)
            elif name == "pytest":
                record_junit(node, project / JUNIT_REPORT)
