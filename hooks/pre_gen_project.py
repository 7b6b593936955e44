"""Reject answers that break a rule, before any file of the project is written."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(r"{{ template_dir }}", "hooks")))

import codegen_tools
from answer_rules import violations

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

problems = violations(ANSWERS)
if problems:
    print("integration-template cannot generate this project:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Nothing was written. Run cookiecutter again with corrected answers.", file=sys.stderr)
    sys.exit(1)

if ANSWERS["api"] == "grpc" and codegen_tools.generator_command(Path(), sys.executable) is None:
    print(
        "api=grpc generates its protobuf modules while baking, but uv is not on PATH and:",
        file=sys.stderr,
    )
    for problem in codegen_tools.problems():
        print(f"  - {problem}", file=sys.stderr)
    print(f"Nothing was written. Run: {codegen_tools.install_hint()}", file=sys.stderr)
    sys.exit(1)
