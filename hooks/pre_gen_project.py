"""Reject answers that break a rule, before any file of the project is written."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(r"{{ cookiecutter._repo_dir }}", "hooks")))

from answer_rules import violations

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

problems = violations(ANSWERS)
if problems:
    print("integration-template cannot generate this project:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Nothing was written. Run cookiecutter again with corrected answers.", file=sys.stderr)
    sys.exit(1)
