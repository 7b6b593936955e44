"""The protos pass buf's lint and format, and the committed modules are their exact output."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.api.grpc.codegen import generate

PROJECT = Path(__file__).parents[3]
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def buf() -> str:
    found = shutil.which("buf", path=str(Path(sys.executable).parent))
    assert found is not None, "buf is missing: it comes with the buf-bin dev dependency"
    return found


@pytest.mark.parametrize(
    "arguments", [["lint"], ["format", "--diff", "--exit-code"]], ids=["lint", "format"]
)
def test_buf_accepts_the_protos(arguments: list[str]) -> None:
    result = subprocess.run(  # noqa: S603 - buf from this environment
        [buf(), *arguments], cwd=PROJECT, capture_output=True, text=True, check=False, timeout=120
    )

    assert result.returncode == 0, result.stdout + result.stderr


def generated_files(root: Path) -> dict[Path, str]:
    return {
        path.relative_to(root): path.read_text(encoding="utf-8")
        for path in root.rglob("*")
        if path.name.endswith(GENERATED_SUFFIXES)
    }


def test_committed_modules_match_the_protos(tmp_path: Path) -> None:
    generate(PROJECT / "proto", tmp_path)

    fresh = generated_files(tmp_path)
    committed = generated_files(PROJECT / "src")

    assert fresh, "no module was generated"
    assert committed == fresh, (
        "the committed protobuf modules differ from the protos: "
        "run `uv run {{ cookiecutter.project_slug }} protos` "
        "and commit the result"
    )
