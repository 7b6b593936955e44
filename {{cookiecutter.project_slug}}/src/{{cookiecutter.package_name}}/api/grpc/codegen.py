"""Generate the Python modules and type stubs of the protos (a development tool).

After changing a ``.proto`` file, run
``uv run {{ cookiecutter.project_slug }} protos``
and commit what it writes; a test fails when the committed modules drift from the protos.
It needs the dev dependencies grpcio-tools and mypy-protobuf, pinned because the
committed modules are their exact output. Runs as a script too (the template's
bake uses it), so it imports nothing of the service.
"""

import subprocess
import sys
from pathlib import Path

PROTO_ROOT = Path("proto")
OUTPUT_ROOT = Path("src")


def generate(proto_root: Path = PROTO_ROOT, output_root: Path = OUTPUT_ROOT) -> list[Path]:
    """Compile every ``.proto`` under ``proto_root`` into ``output_root``; return the protos."""
    protos = sorted(path.relative_to(proto_root) for path in proto_root.rglob("*.proto"))
    scripts = Path(sys.executable).parent  # mypy-protobuf's plugins sit beside the interpreter
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",  # adds the well-known types (google/protobuf/*.proto) itself
        f"--proto_path={proto_root}",
        f"--plugin=protoc-gen-mypy={scripts / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={scripts / 'protoc-gen-mypy_grpc'}",
        f"--python_out={output_root}",
        f"--grpc_python_out={output_root}",
        f"--mypy_out={output_root}",
        f"--mypy_grpc_out={output_root}",
        *map(str, protos),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise RuntimeError(f"protoc failed:\n{completed.stderr}")
    return protos


if __name__ == "__main__":
    for proto in generate():
        print(f"generated the modules of {proto}")  # noqa: T201 - command output
