"""Remove the files of unselected choices and say what to do next."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(r"{{ cookiecutter._repo_dir }}", "hooks")))

from manifest import unselected_paths

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PROJECT = Path.cwd()


def remove_unselected() -> None:
    """Delete the paths of unselected choices, then any folder they leave empty."""
    for relative in sorted(unselected_paths(ANSWERS)):
        path = PROJECT / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        for parent in path.parents:
            if parent == PROJECT or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()


def optional(what: str, command: list[str], timeout: int) -> None:
    """Run a convenience step; a missing tool, no network or a failure is only a note."""
    if shutil.which(command[0]) is None:
        print(f"note: {what} skipped ({command[0]} is not installed)")
        return
    try:
        subprocess.run(command, cwd=PROJECT, check=True, timeout=timeout, capture_output=True)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"note: {what} skipped ({error}); run `{' '.join(command)}` later")


def next_steps() -> str:
    slug = ANSWERS["project_slug"]
    return f"""
Generated {slug} (api={ANSWERS["api"]}, database={ANSWERS["database"]}, \
queue={ANSWERS["queue"]}, auth={ANSWERS["auth"]}).

Next steps:
  cd {slug}
  uv sync                       # create .venv from uv.lock
  cp .env.example .env          # adjust DATABASE_URL and friends
  uv run {slug} migrate upgrade # apply the database migrations
  uv run {slug} serve           # start the service
  uv run pytest                 # run its tests against the real database
"""


remove_unselected()
if not (PROJECT / ".git").exists():
    optional("git init", ["git", "init", "--quiet", "--initial-branch=main"], timeout=30)
optional("uv lock", ["uv", "lock", "--quiet"], timeout=300)
print(next_steps())
