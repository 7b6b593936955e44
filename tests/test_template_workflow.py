"""The template's own workflow: valid, safe, and in step with the harness and the generated CI.

``.github/workflows/template.yml`` gives every variant of the whole matrix a job of its
own. These tests hold it to the bar the generated project's workflow is held to (the
GitHub workflow schema, zizmor), check that its first job lists exactly the variants
the harness knows, and that each job starts the servers its variant needs with the
images, settings and action pins of the generated project's own workflow.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.environment import StrictEnvironment
from harness.template import PROJECT_TEMPLATE, REPO_ROOT, choice_questions, rendered_answers
from harness.variants import matrix, required_servers, variant_id, whole_matrix

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "template.yml"
GENERATED_WORKFLOW = PROJECT_TEMPLATE / ".github" / "workflows" / "ci.yml"
# GitHub's own shell for a `run:` step on Linux.
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)
# A service this variant may not need: its image is "" then, and GitHub skips it.
SERVICE_IMAGE = re.compile(
    r"^\$\{\{ contains\(matrix\.servers, '(?P<server>[\w-]+)'\) "
    r"&& '(?P<image>[^']+)' \|\| '' \}\}$"
)
MATRIX_FIELD = re.compile(r"^\$\{\{ matrix\.([\w-]+) \}\}$")
STEP_CONDITION = re.compile(r"^contains\(matrix\.servers, '(?P<server>[\w-]+)'\)$")
DOCKER_OPTIONS_WITHOUT_VALUE = {"--detach", "-d", "--rm"}


def load(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


@cache
def workflow() -> dict[str, Any]:
    return load(WORKFLOW.read_text(encoding="utf-8"))


def rendered_generated_workflow(answers: Mapping[str, str]) -> dict[str, Any]:
    """The generated project's ci.yml as cookiecutter renders it for ``answers``."""
    context = rendered_answers(answers)
    environment = StrictEnvironment(context={"cookiecutter": context})
    source = GENERATED_WORKFLOW.read_text(encoding="utf-8")
    return load(environment.from_string(source).render(cookiecutter=context))


def steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = job.get("steps", [])
    assert isinstance(found, list)
    return found


@dataclass(frozen=True)
class DockerRun:
    """A ``docker run`` command of a step: the container's name, its image, its argv."""

    name: str
    image: str
    argv: tuple[str, ...]


def docker_runs(script: str) -> Iterator[DockerRun]:
    joined = script.replace("\\\n", " ")
    for line in joined.splitlines():
        argv = shlex.split(line)
        if argv[:2] != ["docker", "run"]:
            continue
        name, image, arguments = "", "", iter(argv[2:])
        for argument in arguments:
            if argument in DOCKER_OPTIONS_WITHOUT_VALUE:
                continue
            if argument.startswith("-"):
                option, has_value, value = argument.partition("=")
                value = value if has_value else next(arguments, "")
                if option == "--name":
                    name = value
                continue
            image = argument
            break
        assert name, f"a container without --name: {line}"
        assert image, f"a docker run without an image: {line}"
        yield DockerRun(name, image, tuple(argv))


def guarded_image(name: str, service: Mapping[str, Any]) -> str:
    """The image a service runs for the variants that name it among their servers."""
    guarded = SERVICE_IMAGE.match(str(service["image"]))
    assert guarded, f"service {name}: its image must be '' unless the variant needs {name}"
    assert guarded["server"] == name, f"service {name} is started for {guarded['server']}"
    return guarded["image"]


def without_image(service: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in service.items() if key != "image"}


def variant_job() -> dict[str, Any]:
    """The job whose matrix is the output of another job: one job per variant."""
    wired: list[dict[str, Any]] = [
        job
        for job in workflow()["jobs"].values()
        if "fromJSON(needs." in str(job.get("strategy", {}).get("matrix", ""))
    ]
    assert len(wired) == 1, "expected one job whose matrix is another job's output"
    return wired[0]


def variant_servers() -> dict[str, str]:
    """Server -> image: what the variant job starts, each only where the variant needs it.

    A service container's image is ``''`` unless the entry names its server; a
    ``docker run`` step runs only if the entry names the container's server.
    """
    job = variant_job()
    servers = {name: guarded_image(name, service) for name, service in job["services"].items()}
    for step in steps(job):
        runs = list(docker_runs(str(step.get("run", ""))))
        if not runs:
            continue
        guarded = STEP_CONDITION.match(str(step.get("if", "")))
        assert guarded, f"step {step.get('name')!r} starts a server every variant would start"
        assert [run.name for run in runs] == [guarded["server"]]
        servers[guarded["server"]] = runs[0].image
    return servers


@dataclass(frozen=True)
class MatrixStep:
    """The step that prints the matrix, and where its output lands."""

    script: str
    output: str


def matrix_step() -> MatrixStep:
    """Follow the wiring from the variant job's matrix back to the step that makes it."""
    wiring = str(variant_job()["strategy"]["matrix"])
    needed = re.fullmatch(r"\$\{\{ fromJSON\(needs\.([\w-]+)\.outputs\.([\w-]+)\) \}\}", wiring)
    assert needed, f"unexpected matrix expression: {wiring}"
    job_id, job_output = needed.groups()
    assert variant_job()["needs"] in (job_id, [job_id])
    producer = workflow()["jobs"][job_id]
    expression = str(producer["outputs"][job_output])
    from_step = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", expression)
    assert from_step, f"unexpected job output: {expression}"
    step_id, step_output = from_step.groups()
    (step,) = [step for step in steps(producer) if step.get("id") == step_id]
    return MatrixStep(script=str(step["run"]), output=step_output)


@pytest.fixture(scope="module")
def ci_entries(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """What the matrix job hands the variant job: its step run as GitHub runs it."""
    step = matrix_step()
    github_output = tmp_path_factory.mktemp("github") / "output"
    github_output.touch()
    completed = subprocess.run(
        [*GITHUB_BASH, step.script],
        cwd=REPO_ROOT,
        env={**os.environ, "GITHUB_OUTPUT": str(github_output)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    outputs = dict(
        line.split("=", 1) for line in github_output.read_text(encoding="utf-8").splitlines()
    )
    strategy = json.loads(outputs[step.output])
    assert set(strategy) == {"include"}, "the variant job's matrix is its list of entries"
    entries: list[dict[str, Any]] = strategy["include"]
    return entries


@pytest.mark.parametrize(
    "check",
    [
        # The GitHub workflow schema, as check-jsonschema ships it (offline).
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"],
        # Every zizmor audit that needs no network, at every severity.
        [str(Path(sysconfig.get_path("scripts")) / "zizmor"), "--offline", "--no-progress"],
    ],
    ids=["workflow schema", "zizmor"],
)
def test_the_workflow_passes_the_checks_of_the_generated_workflow(check: list[str]) -> None:
    completed = subprocess.run(
        [*check, str(WORKFLOW)], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_action_is_pinned_by_commit_sha_as_in_the_generated_workflow() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = USES_LINE.findall(text)
    assert uses, "the workflow uses no action"
    unpinned = [action for action, _ in uses if not SHA_PINNED.match(action)]
    assert not unpinned, f"actions not pinned by a 40-hex commit SHA: {unpinned}"
    unlabelled = [action for action, comment in uses if not re.match(r"\s+# v\d", comment)]
    assert not unlabelled, f"name the version a SHA stands for (`# vX.Y.Z`): {unlabelled}"
    generated = dict(
        action.split("@")
        for action, _ in USES_LINE.findall(GENERATED_WORKFLOW.read_text(encoding="utf-8"))
    )
    ours = dict(action.split("@") for action, _ in uses)
    mismatched = {
        name: (sha, generated[name])
        for name, sha in ours.items()
        if name in generated and sha != generated[name]
    }
    assert not mismatched, f"pinned unlike the generated workflow (ours, its): {mismatched}"


def test_permissions_are_read_only_and_checkouts_keep_no_credentials() -> None:
    assert workflow()["permissions"] == {"contents": "read"}
    for name, job in workflow()["jobs"].items():
        assert job.get("permissions", {}) in ({}, {"contents": "read"}), name
        for step in steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_the_matrix_job_lists_exactly_the_variants_of_the_harness(
    ci_entries: list[dict[str, Any]],
) -> None:
    ids = [entry["id"] for entry in ci_entries]
    core = math.prod(len(choices) for choices in choice_questions().values())

    assert ids == [variant_id(answers) for answers in whole_matrix()]
    assert len(set(ids)) == len(ids)
    assert len({entry["name"] for entry in ci_entries}) == len(ci_entries)
    assert len(matrix()) == core
    assert {variant_id(answers) for answers in matrix()} <= set(ids)
    assert len(ids) > core, "the other Pythons and the edge answers have jobs too"


def test_every_entry_names_the_python_and_servers_of_its_variant(
    ci_entries: list[dict[str, Any]],
) -> None:
    for answers, entry in zip(whole_matrix(), ci_entries, strict=True):
        assert entry == {
            "id": variant_id(answers),
            "name": entry["name"],
            "python": rendered_answers(answers)["python_version"],
            "servers": required_servers(answers),
        }


def test_the_variant_job_starts_each_server_only_for_the_variants_that_need_it() -> None:
    needed = {server for answers in whole_matrix() for server in required_servers(answers)}

    assert set(variant_servers()) == needed


def test_the_servers_run_as_the_generated_workflow_runs_them() -> None:
    """Same images, environment, ports, health checks and `docker run` arguments."""
    job = variant_job()
    ours_runs = {
        run.name: run for step in steps(job) for run in docker_runs(str(step.get("run", "")))
    }
    seen: dict[str, str] = {}
    for answers in matrix():
        for generated_job in rendered_generated_workflow(answers)["jobs"].values():
            for name, service in generated_job.get("services", {}).items():
                ours = job["services"][name]
                assert guarded_image(name, ours) == service["image"]
                assert without_image(ours) == without_image(service), (
                    f"service {name} is set up unlike the generated workflow's"
                )
                seen[name] = service["image"]
            for step in steps(generated_job):
                for run in docker_runs(str(step.get("run", ""))):
                    assert ours_runs[run.name].argv == run.argv
                    seen[run.name] = run.image

    assert seen == variant_servers()


def test_each_variant_job_tests_its_own_variant_and_no_other(
    ci_entries: list[dict[str, Any]],
) -> None:
    """The variant job's test step, run as GitHub runs it but only collecting, for a core
    variant, the first on another Python and the edge answers: exactly that variant."""
    (step,) = [
        step for step in steps(variant_job()) if "tests/test_variants.py" in step.get("run", "")
    ]
    harness_env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    core = len(matrix())
    for entry in (ci_entries[0], ci_entries[core], ci_entries[-1]):
        fields = {key: MATRIX_FIELD.fullmatch(str(value)) for key, value in step["env"].items()}
        assert all(fields.values()), f"the test step's environment is not the entry's: {fields}"
        step_env = {key: str(entry[field[1]]) for key, field in fields.items() if field}
        completed = subprocess.run(
            [*GITHUB_BASH, step["run"]],
            cwd=REPO_ROOT,
            env={**harness_env, **step_env, "PYTEST_ADDOPTS": "--collect-only -q"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        collected = [line for line in completed.stdout.splitlines() if "::" in line]
        assert collected == [f"tests/test_variants.py::test_variant[{entry['id']}]"]
