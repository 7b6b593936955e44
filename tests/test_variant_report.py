"""The per-variant summary: step timings, the slowest tests and the failures of a baked
project, read from the JUnit report its own pytest writes; and the mypy cache hand-over."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import mypy_cache
from harness.variant_report import (
    FAILURES_PROPERTY,
    ID_PROPERTY,
    SLOWEST_PROPERTY,
    VARIANT_PROPERTY,
    VariantOutcome,
    VariantReport,
    record_junit,
)

PROJECT_TESTS = """
import time

def test_slow():
    time.sleep(0.3)

def test_fails():
    assert 1 + 1 == 3, "arithmetic is broken"

def test_passes():
    pass
"""


class Node:
    """What ``record_junit`` needs of a pytest item."""

    def __init__(self) -> None:
        self.user_properties: list[tuple[str, object]] = []


def junit_report(tmp_path: Path) -> Path:
    (tmp_path / "test_project.py").write_text(PROJECT_TESTS, encoding="utf-8")
    report = tmp_path / "junit.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            f"--junit-xml={report}",
            "test_project.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return report


def test_the_slowest_tests_and_the_failures_come_from_the_projects_junit_report(
    tmp_path: Path,
) -> None:
    node = Node()

    record_junit(node, junit_report(tmp_path))  # type: ignore[arg-type]

    properties = dict(node.user_properties)
    slowest = properties[SLOWEST_PROPERTY]
    assert isinstance(slowest, list)
    assert slowest[0][0] == "test_project::test_slow"
    assert slowest[0][1] >= 0.3
    assert properties[FAILURES_PROPERTY] == [
        "test_project::test_fails: AssertionError: arithmetic is broken"
    ]


def test_a_missing_report_records_nothing(tmp_path: Path) -> None:
    node = Node()

    record_junit(node, tmp_path / "absent.xml")  # type: ignore[arg-type]

    assert node.user_properties == []


def test_a_variants_line_gives_its_steps_slowest_tests_and_failures(tmp_path: Path) -> None:
    outcome = VariantOutcome(answers="api=rest")
    report = pytest.TestReport(
        nodeid="tests/test_variants.py::test_variant[x]",
        location=("tests/test_variants.py", 1, "test_variant"),
        keywords={},
        outcome="failed",
        longrepr="step 'pytest' failed",
        when="call",
        duration=12.5,
        user_properties=[
            (VARIANT_PROPERTY, "api=rest"),
            (ID_PROPERTY, "api:rest"),
            ("step mypy", 4.25),
            ("step pytest", 8.0),
            (SLOWEST_PROPERTY, [("tests.test_a::test_b", 3.0)]),
            (FAILURES_PROPERTY, ["tests.test_a::test_c: AssertionError: no"]),
        ],
    )

    outcome.absorb(report)

    assert outcome.lines() == [
        "api=rest  failed  12.5s  [mypy 4.2 · pytest 8.0]",
        "    slowest: tests.test_a::test_b 3.0s",
        "    FAILED tests.test_a::test_c: AssertionError: no",
    ]
    timings_path = tmp_path / "timings.json"
    VariantReport(timings_path=timings_path, outcomes={"x": outcome}).pytest_terminal_summary(
        Writer()  # type: ignore[arg-type]
    )
    assert json.loads(timings_path.read_text(encoding="utf-8")) == {
        "api:rest": {"result": "failed", "seconds": 12.5, "steps": {"mypy": 4.2, "pytest": 8.0}}
    }


def test_a_variant_stopped_after_its_setup_is_unfinished_not_passed() -> None:
    started = VariantOutcome(answers="api=grpc")
    started.absorb(
        pytest.TestReport(
            nodeid="tests/test_variants.py::test_variant[y]",
            location=("tests/test_variants.py", 1, "test_variant"),
            keywords={},
            outcome="passed",
            longrepr=None,
            when="setup",
            duration=0.0,
            user_properties=[(VARIANT_PROPERTY, "api=grpc")],
        )
    )
    writer = Writer()

    VariantReport(outcomes={"y": started}).pytest_terminal_summary(writer)  # type: ignore[arg-type]

    assert started.result == "unfinished"
    assert writer.lines[-1] == "0 passed, 0 failed, 1 unfinished"


class Writer:
    """The part of pytest's terminal reporter the summary writes to."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str) -> None:
        self.lines.append(f"== {title}")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def projects_sharing_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *names: str
) -> list[Path]:
    """Empty project folders, one per name, whose variants share one run's mypy caches."""
    monkeypatch.setenv(mypy_cache.CACHES_DIR_VARIABLE, str(tmp_path / "caches"))
    projects = [tmp_path / name for name in names]
    for project in projects:
        project.mkdir()
    return projects


def test_a_variant_starts_from_the_cache_the_last_one_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = projects_sharing_caches(
        tmp_path, monkeypatch, "first", "second", "third"
    )

    mypy_cache.take(first, "3.12")  # nothing left yet: a cold start
    assert not (first / mypy_cache.PROJECT_CACHE).exists()
    (first / mypy_cache.PROJECT_CACHE / "3.12").mkdir(parents=True)
    (first / mypy_cache.PROJECT_CACHE / "3.12" / "module.meta.json").write_text("first")
    mypy_cache.leave(first, "3.12")
    (first / mypy_cache.PROJECT_CACHE / "3.12" / "module.meta.json").write_text("changed later")

    mypy_cache.take(second, "3.12")
    mypy_cache.take(third, "3.13")

    copied = second / mypy_cache.PROJECT_CACHE / "3.12" / "module.meta.json"
    assert copied.read_text() == "first"  # a copy: what the first does next is its own
    assert not (third / mypy_cache.PROJECT_CACHE).exists()  # never across Pythons


def test_a_variant_waits_for_the_cache_the_first_one_is_warming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warming, waiting = projects_sharing_caches(tmp_path, monkeypatch, "warming", "waiting")
    mypy_cache.take(warming, "3.12")  # the first: starts cold, the others wait for it

    def warm() -> None:
        time.sleep(0.5)
        (warming / mypy_cache.PROJECT_CACHE).mkdir()
        (warming / mypy_cache.PROJECT_CACHE / "module.meta.json").write_text("warm")
        mypy_cache.leave(warming, "3.12")

    thread = threading.Thread(target=warm)
    thread.start()
    mypy_cache.take(waiting, "3.12", wait_seconds=30)
    thread.join()

    assert (waiting / mypy_cache.PROJECT_CACHE / "module.meta.json").read_text() == "warm"


def test_a_variant_goes_on_cold_when_the_warming_one_never_leaves_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    died, waiting = projects_sharing_caches(tmp_path, monkeypatch, "died", "waiting")
    mypy_cache.take(died, "3.12")

    began = time.monotonic()
    mypy_cache.take(waiting, "3.12", wait_seconds=0.5)

    assert time.monotonic() - began >= 0.5
    assert not (waiting / mypy_cache.PROJECT_CACHE).exists()
