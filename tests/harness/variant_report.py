"""Where each variant's time went, and why it failed, in one line per variant at the end.

A variant test records each step's seconds (and, from the baked project's JUnit
report, its slowest tests and its failures) in ``user_properties``: pytest-xdist
carries those to the controlling process, which prints the summary and, on
request, writes every variant's timings as JSON for the cost model of the shards.
"""

from __future__ import annotations

import contextlib
import json
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

VARIANT_PROPERTY = "variant"
ID_PROPERTY = "variant id"
STEP_PREFIX = "step "
SLOWEST_PROPERTY = "slowest tests"
FAILURES_PROPERTY = "failures"
SLOWEST_SHOWN = 3
FAILURES_SHOWN = 10


@contextlib.contextmanager
def timed(node: pytest.Item, step: str) -> Iterator[None]:
    """Record how long ``step`` took on ``node``, whether it passed or not."""
    started = time.monotonic()
    try:
        yield
    finally:
        node.user_properties.append((STEP_PREFIX + step, time.monotonic() - started))


def record_failure(node: pytest.Item, description: str) -> None:
    node.user_properties.append((FAILURES_PROPERTY, [description]))


def record_junit(node: pytest.Item, report: Path) -> None:
    """The slowest tests and the failures of a baked project's run, from its JUnit XML."""
    if not report.is_file():
        return
    cases = ElementTree.parse(report).getroot().iter("testcase")  # noqa: S314 - our own file
    timings: list[tuple[str, float]] = []
    failures: list[str] = []
    for case in cases:
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        timings.append((name, float(case.get("time", "0"))))
        for problem in (*case.iter("failure"), *case.iter("error")):
            failures.append(f"{name}: {first_line(problem.get('message') or problem.text or '')}")
    timings.sort(key=lambda timing: timing[1], reverse=True)
    node.user_properties.append((SLOWEST_PROPERTY, timings[:SLOWEST_SHOWN]))
    if failures:
        node.user_properties.append((FAILURES_PROPERTY, failures))


def first_line(text: str) -> str:
    """The first line that says something (tracebacks start with blank lines)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]


@dataclass
class VariantOutcome:
    answers: str
    variant_id: str = ""
    failed: bool = False
    skipped: bool = False
    called: bool = False
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def result(self) -> str:
        """passed, failed, skipped, or unfinished: set up, then the run stopped (Ctrl-C)."""
        if self.failed:
            return "failed"
        if self.skipped:
            return "skipped"
        return "passed" if self.called else "unfinished"

    def absorb(self, report: pytest.TestReport) -> None:
        self.seconds += report.duration
        self.called = self.called or report.when == "call"
        self.failed = self.failed or report.failed
        self.skipped = self.skipped or report.skipped
        value: Any
        for name, value in report.user_properties:
            if name == ID_PROPERTY:
                self.variant_id = str(value)
            elif name.startswith(STEP_PREFIX):
                self.steps[name.removeprefix(STEP_PREFIX)] = float(value)
            elif name == SLOWEST_PROPERTY:
                self.slowest = [(str(test), float(seconds)) for test, seconds in value]
            elif name == FAILURES_PROPERTY:
                self.failures = list(dict.fromkeys([*self.failures, *value]))
        if report.failed and not self.failures and report.longreprtext:
            self.failures = [f"{report.when}: {first_line(report.longreprtext)}"]

    def lines(self) -> list[str]:
        steps = " · ".join(f"{step} {seconds:.1f}" for step, seconds in self.steps.items())
        lines = [f"{self.answers}  {self.result}  {self.seconds:.1f}s  [{steps}]"]
        if self.slowest:
            slowest = ", ".join(f"{test} {seconds:.1f}s" for test, seconds in self.slowest)
            lines.append(f"    slowest: {slowest}")
        shown = self.failures[:FAILURES_SHOWN]
        lines.extend(f"    FAILED {failure}" for failure in shown)
        if len(self.failures) > len(shown):
            lines.append(f"    ... and {len(self.failures) - len(shown)} more failures")
        return lines

    def timings(self) -> dict[str, object]:
        return {"result": self.result, "seconds": round(self.seconds, 1)} | {
            "steps": {step: round(seconds, 1) for step, seconds in self.steps.items()}
        }


@dataclass
class VariantReport:
    """Collects the outcome of every variant test (setup + call + teardown)."""

    timings_path: Path | None = None
    outcomes: dict[str, VariantOutcome] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        answers = dict(report.user_properties).get(VARIANT_PROPERTY)
        if answers is None:
            return
        outcome = self.outcomes.setdefault(report.nodeid, VariantOutcome(answers=str(answers)))
        outcome.absorb(report)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.outcomes:
            return
        terminalreporter.section("variants")
        for outcome in sorted(self.outcomes.values(), key=lambda o: o.answers):
            for line in outcome.lines():
                terminalreporter.write_line(line)
        results = [outcome.result for outcome in self.outcomes.values()]
        unfinished = results.count("unfinished")
        terminalreporter.write_line(
            f"{results.count('passed')} passed, {results.count('failed')} failed"
            + (f", {unfinished} unfinished" if unfinished else "")
        )
        if self.timings_path is not None:
            timings = {o.variant_id: o.timings() for o in self.outcomes.values() if o.variant_id}
            self.timings_path.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
            terminalreporter.write_line(f"variant timings written to {self.timings_path}")
