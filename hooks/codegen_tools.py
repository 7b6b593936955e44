"""The code generators that ``api=grpc`` runs at bake time, at the versions the project pins.

The Python modules protoc writes embed the serialized descriptor of the proto,
package name included, so they cannot be templated: the post-generation hook
generates them in the baked project with grpcio-tools and mypy-protobuf, which
must therefore be installed beside cookiecutter at exactly the versions the
generated project pins (its drift test regenerates them and compares).
"""

from __future__ import annotations

import re
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PROJECT_PYPROJECT = (
    Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}" / "pyproject.toml"
)
GENERATORS = ("grpcio-tools", "mypy-protobuf")


def pinned_versions(pyproject: Path = PROJECT_PYPROJECT) -> dict[str, str]:
    """``{generator: version}`` as the generated project's dev dependencies pin them."""
    text = pyproject.read_text(encoding="utf-8")
    pins = {}
    for name in GENERATORS:
        match = re.search(rf'"{re.escape(name)}==([^"]+)"', text)
        if match is None:
            raise LookupError(f"{pyproject} does not pin {name} with ==")
        pins[name] = match.group(1)
    return pins


def with_generators() -> list[str]:
    """uv's arguments that add the pinned generators to an environment."""
    return [arg for name, pin in pinned_versions().items() for arg in ("--with", f"{name}=={pin}")]


def install_hint() -> str:
    """The command that runs cookiecutter with the generators installed beside it."""
    return f"uvx {' '.join(with_generators())} cookiecutter <template> api=grpc ..."


def problems() -> list[str]:
    """What is missing or at another version; empty when the bake can generate the stubs."""
    found = []
    for name, pin in pinned_versions().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            found.append(f"{name}=={pin} is not installed beside cookiecutter")
            continue
        if installed != pin:
            found.append(f"{name} {installed} is installed beside cookiecutter, not {pin}")
    return found


def generator_command(script: Path, python: str) -> list[str] | None:
    """How to run ``script`` with the pinned generators, or ``None`` when nothing can.

    ``python`` runs it when the generators sit beside cookiecutter; otherwise uv
    (which ``uvx cookiecutter`` implies) runs it in a throwaway environment.
    """
    if not problems():
        return [python, str(script)]
    uv = shutil.which("uv")
    if uv is None:
        return None
    return [uv, "run", "--quiet", "--no-project", *with_generators(), "python", str(script)]
