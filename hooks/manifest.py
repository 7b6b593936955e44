"""Which generated paths belong to which answer.

The post-generation hook deletes the paths of every unselected choice; the
template's tests check the same table against every baked variant. A path is
relative to the project root; ``{package}`` stands for the package name. A
path listed under several choices of one question stays when any of them is
selected.
"""

from __future__ import annotations

from collections.abc import Mapping

CHOICE_PATHS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "api": {
        "rest": (
            "openapi.json",
            "src/{package}/api/rest",
            "tests/api/rest",
        ),
        "grpc": (
            "buf.yaml",
            "proto",
            "src/{package}/api/grpc",
            "src/{package}/orders",
            "tests/api/grpc",
        ),
    },
    "database": {
        "postgres": (
            "src/{package}/storage/postgres",
            "tests/fixtures/postgres.py",
            "tests/storage/postgres",
        ),
        "mongo": (
            "src/{package}/storage/mongo",
            "tests/fixtures/mongo.py",
            "tests/storage/mongo",
        ),
    },
    "queue": {
        "none": (),
    },
    "auth": {
        "none": (),
    },
}


def _expand(paths: tuple[str, ...], package: str) -> set[str]:
    return {path.format(package=package) for path in paths}


def selected_paths(answers: Mapping[str, str]) -> set[str]:
    """Paths that the answers keep."""
    package = answers["package_name"]
    kept: set[str] = set()
    for question, choices in CHOICE_PATHS.items():
        kept |= _expand(choices[answers[question]], package)
    return kept


def unselected_paths(answers: Mapping[str, str]) -> set[str]:
    """Paths that belong only to choices the answers did not pick."""
    package = answers["package_name"]
    dropped: set[str] = set()
    for question, choices in CHOICE_PATHS.items():
        for choice, paths in choices.items():
            if choice != answers[question]:
                dropped |= _expand(paths, package)
    return dropped - selected_paths(answers)
