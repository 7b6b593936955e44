"""Harness plumbing: the options that pick variants, interpreters for uv, servers for the
run, and one line per variant at the end of it.

Each variant test carries its answers in ``user_properties``; test reports reach the
controlling process with them even under pytest-xdist, and that is where the
per-variant lines and the ``N passed, M failed`` summary are printed
(``harness.variant_report``). The servers a variant starts (``servers.registry``)
are stopped there too, when the run ends.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from harness.mypy_cache import CACHES_DIR_VARIABLE
from harness.pyenv import ensure_pyenv_version
from harness.shards import Shard
from harness.variant_report import ID_PROPERTY, VARIANT_PROPERTY, VariantReport
from servers import registry
from servers.background import STATE_DIR_VARIABLE


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("variants", "which variants of the template to bake and test")
    group.addoption(
        "--variant",
        action="append",
        default=[],
        metavar="ID",
        help="only this variant of the whole matrix, by test id (repeatable)",
    )
    group.addoption(
        "--variant-shard",
        type=_shard,
        metavar="K/N",
        help="only the K-th of N shards of the whole matrix, balanced by measured cost",
    )
    group.addoption(
        "--variant-timings",
        type=Path,
        metavar="PATH",
        help="write each variant's result and step timings to PATH as JSON",
    )


# A variant's suite spends most of its time waiting out the timeouts its tests prove
# (ack timeouts, leases, outages, circuit recovery), not computing: with one variant
# per core the cores sat idle two thirds of a run. Three per core keep them busy;
# the cap keeps a large machine from crowding the shared database and brokers.
VARIANTS_PER_CORE = 3
MOST_VARIANTS_AT_ONCE = 12


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many variants ``-n auto`` runs at once."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(VARIANTS_PER_CORE * (cores or 1), MOST_VARIANTS_AT_ONCE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "variant(answers, id): one baked variant of the template")
    ensure_pyenv_version()
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        report = VariantReport(timings_path=config.getoption("variant_timings"))
        config.pluginmanager.register(report, "variant-report")
        # Workers inherit these before they start: where servers started for the run are
        # noted, and where variants hand each other a warm mypy cache.
        os.environ[STATE_DIR_VARIABLE] = tempfile.mkdtemp(prefix="template-servers-")
        os.environ[CACHES_DIR_VARIABLE] = tempfile.mkdtemp(prefix="template-mypy-caches-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    caches_dir = os.environ.pop(CACHES_DIR_VARIABLE, None)
    if caches_dir is not None:
        shutil.rmtree(caches_dir, ignore_errors=True)
    state_dir = os.environ.pop(STATE_DIR_VARIABLE, None)
    if state_dir is not None:
        registry.stop_started(Path(state_dir))
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def servers_dir() -> Path:
    """Where the servers started for this run keep their state, logs and process groups."""
    return Path(os.environ[STATE_DIR_VARIABLE])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Variants first, in the order they were generated (heaviest first): workers take
    # tests in this order, so the quick ones fill the end of the run.
    items.sort(key=lambda item: item.get_closest_marker("variant") is None)
    for item in items:
        marker = item.get_closest_marker("variant")
        if marker is not None:
            item.user_properties.append((VARIANT_PROPERTY, str(marker.args[0])))
            item.user_properties.append((ID_PROPERTY, str(marker.args[1])))
