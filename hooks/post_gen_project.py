"""Remove the files of unselected choices and say what to do next."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(r"{{ template_dir }}", "hooks")))

import codegen_tools
from manifest import moves, unselected_paths

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PROJECT = Path.cwd()
TEMPLATE_DIR = Path(r"{{ template_dir }}")
# cruft renders the template itself, to create a project or (twice) to update one,
# records the answers itself and applies the difference between its renderings: a
# git repository or an answers file made here would land in that difference.
RENDERED_BY_CRUFT = "_commit" in ANSWERS
CRUFT_FILE = ".cruft.json"
# Context entries that describe the machine the project was generated on.
MACHINE_ENTRIES = ("_output_dir", "_repo_dir")
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


def template_git(*arguments: str) -> str | None:
    """What git prints for ``arguments`` in the template's checkout; None if it fails."""
    if shutil.which("git") is None:
        return None
    try:
        completed = subprocess.run(
            ["git", "-C", str(TEMPLATE_DIR), *arguments],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


def record_template() -> None:
    """Write .cruft.json as ``cruft create`` does, so that ``cruft update`` can bring fixes."""
    commit = template_git("rev-parse", "HEAD")
    if commit is None:
        print(f"note: {CRUFT_FILE} not written (the template is not a git checkout)")
        return
    template = template_git("remote", "get-url", "origin") or str(TEMPLATE_DIR)
    context = {key: value for key, value in ANSWERS.items() if key not in MACHINE_ENTRIES}
    state = {
        "template": template,
        "commit": commit,
        "checkout": ANSWERS.get("_checkout"),
        "context": {"cookiecutter": {**context, "_template": template, "_commit": commit}},
        "directory": None,
    }
    (PROJECT / CRUFT_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


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
    sort_imports = ["uvx", "ruff", "check", "--no-cache", "--select", "I", "--fix", "-q"]
    optional("ruff (sort imports)", sort_imports, 120)
    optional("ruff (format)", ["uvx", "ruff", "format", "--no-cache", "-q"], 120)
if not RENDERED_BY_CRUFT:
    if not (PROJECT / ".git").exists():
        optional("git init", ["git", "init", "--quiet", "--initial-branch=main"], timeout=30)
    record_template()
optional("uv lock", ["uv", "lock", "--quiet"], timeout=300)
print(next_steps())
