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
# The setting that points the service at its database, by the database answer.
URL_SETTINGS = {"postgres": "DATABASE_URL", "mongo": "MONGODB_URL"}


def remove_unselected() -> None:
    for relative in sorted(unselected_paths(ANSWERS)):
        path = PROJECT / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def init_git() -> None:
    """Start a repository; optional, so a missing or failing git is not an error."""
    if (PROJECT / ".git").exists() or shutil.which("git") is None:
        return
    try:
        subprocess.run(
            ["git", "init", "--quiet", "--initial-branch=main"], cwd=PROJECT, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as error:
        print(f"note: git init skipped ({error})")


def next_steps() -> str:
    slug = ANSWERS["project_slug"]
    return f"""
Generated {slug} (api={ANSWERS["api"]}, database={ANSWERS["database"]}, \
queue={ANSWERS["queue"]}, auth={ANSWERS["auth"]}).

Next steps:
  cd {slug}
  uv sync                       # create .venv and uv.lock
  cp .env.example .env          # adjust {URL_SETTINGS[ANSWERS["database"]]} and friends
  uv run {slug} migrate upgrade # apply the database migrations
  uv run {slug} serve           # start the service
  uv run pytest                 # run its tests against the real database
"""


remove_unselected()
init_git()
print(next_steps())
