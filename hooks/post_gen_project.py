"""Remove the files of unselected choices and say what to do next."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(r"{{ cookiecutter._repo_dir }}", "hooks")))

import codegen_tools
from manifest import moves, unselected_paths

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PROJECT = Path.cwd()
# Set to 1 to leave the baked sources as the template wrote them (the template's
# tests check that they need no import sorting for the default names).
SKIP_RUFF_VARIABLE = "TEMPLATE_SKIP_RUFF"
# The setting that points the service at its database, by the database answer.
URL_SETTINGS = {"postgres": "DATABASE_URL", "mongo": "MONGODB_URL"}


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


def install_common_names() -> None:
    """Move each selected file that every variant imports under one name to that name."""
    for source, target in moves(ANSWERS).items():
        (PROJECT / source).replace(PROJECT / target)


def generate_protobuf_modules() -> None:
    """Run the project's own generator (its `protos` command) on its protos."""
    if ANSWERS["api"] != "grpc":
        return
    generator = PROJECT / "src" / ANSWERS["package_name"] / "api" / "grpc" / "codegen.py"
    command = codegen_tools.generator_command(generator, sys.executable)
    if command is None:  # the pre-generation hook has already refused this
        sys.exit("grpcio-tools and mypy-protobuf are missing, and uv is not on PATH")
    completed = subprocess.run(
        command,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        print(f"generating the protobuf modules failed:\n{completed.stderr}", file=sys.stderr)
        sys.exit(1)


def optional(what: str, command: list[str], timeout: int) -> None:
    """Run a convenience step; a missing tool, no network or a failure is only a note."""
    if shutil.which(command[0]) is None:
        print(f"note: {what} skipped ({command[0]} is not installed)")
        return
    try:
        subprocess.run(command, cwd=PROJECT, check=True, timeout=timeout, capture_output=True)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"note: {what} skipped ({error}); run `{' '.join(command)}` later")


def caller_step(slug: str) -> str:
    """How to get credentials for a first call, per auth mode."""
    scopes = "--scope orders:read --scope orders:write --scope webhooks:manage"
    return {
        "jwt": f"  uv run {slug} issue-token --subject me {scopes}  # a token for local calls\n",
        "api_key": f"  uv run {slug} api-keys create --client me {scopes}  # a key, shown once\n",
        "oauth2": "  # set OAUTH2_ISSUER (and OAUTH2_AUDIENCE) in .env to your OAuth 2.0 issuer\n",
    }.get(ANSWERS["auth"], "")


def next_steps() -> str:
    slug = ANSWERS["project_slug"]
    return f"""
Generated {slug} (api={ANSWERS["api"]}, database={ANSWERS["database"]}, \
queue={ANSWERS["queue"]}, auth={ANSWERS["auth"]}).

Next steps:
  cd {slug}
  uv sync                       # create .venv from uv.lock
  cp .env.example .env          # adjust {URL_SETTINGS[ANSWERS["database"]]} and friends
  uv run {slug} migrate upgrade # apply the database migrations
{caller_step(slug)}  uv run {slug} serve           # start the service
  uv run pytest                 # run its tests against the real database
"""


remove_unselected()
install_common_names()
generate_protobuf_modules()
# The template is formatted for its default names; longer ones can push a line past
# the limit or change the import order, which ruff puts right.
if os.environ.get(SKIP_RUFF_VARIABLE) != "1":
    optional("ruff (sort imports)", ["uvx", "ruff", "check", "--select", "I", "--fix", "-q"], 120)
    optional("ruff (format)", ["uvx", "ruff", "format", "-q"], 120)
if not (PROJECT / ".git").exists():
    optional("git init", ["git", "init", "--quiet", "--initial-branch=main"], timeout=30)
optional("uv lock", ["uv", "lock", "--quiet"], timeout=300)
print(next_steps())
