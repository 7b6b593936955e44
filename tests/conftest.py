"""Harness plumbing: interpreters for uv, servers for the run, one line per variant at the end.

Each variant test carries its answers in ``user_properties``; test reports reach the
controlling process with them even under pytest-xdist, and that is where the
per-variant lines and the ``N passed, M failed`` summary are printed. The servers a
variant starts (``servers.registry``) are stopped there too, when the run ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from harness.pyenv import ensure_pyenv_version
from servers import registry
from servers.background import STATE_DIR_VARIABLE

VARIANT_PROPERTY = "variant"


@dataclass
class VariantOutcome:
    answers: str
    failed: bool = False
    skipped: bool = False
    seconds: float = 0.0

    @property
    def result(self) -> str:
        if self.failed:
            return "failed"
        return "skipped" if self.skipped else "passed"


@dataclass
class VariantReport:
    """Collects the outcome of every variant test (setup + call + teardown)."""

    outcomes: dict[str, VariantOutcome] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        answers = dict(report.user_properties).get(VARIANT_PROPERTY)
        if answers is None:
            return
        outcome = self.outcomes.setdefault(report.nodeid, VariantOutcome(answers=str(answers)))
        outcome.seconds += report.duration
        outcome.failed = outcome.failed or report.failed
        outcome.skipped = outcome.skipped or report.skipped

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.outcomes:
            return
        terminalreporter.section("variants")
        for outcome in sorted(self.outcomes.values(), key=lambda o: o.answers):
            terminalreporter.write_line(
                f"{outcome.answers}  {outcome.result}  {outcome.seconds:.1f}s"
            )
        results = [outcome.result for outcome in self.outcomes.values()]
        terminalreporter.write_line(
            f"{results.count('passed')} passed, {results.count('failed')} failed"
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "variant(answers): one baked variant of the template")
    ensure_pyenv_version()
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        config.pluginmanager.register(VariantReport(), "variant-report")
        # Workers inherit this before they start: where servers started for the run are noted.
        os.environ[STATE_DIR_VARIABLE] = tempfile.mkdtemp(prefix="template-servers-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state_dir = os.environ.pop(STATE_DIR_VARIABLE, None)
    if state_dir is not None:
        registry.stop_started(Path(state_dir))
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def servers_dir() -> Path:
    """Where the servers started for this run keep their state, logs and process groups."""
    return Path(os.environ[STATE_DIR_VARIABLE])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("variant")
        if marker is not None:
            item.user_properties.append((VARIANT_PROPERTY, str(marker.args[0])))
