"""Jinja extensions of the template, which cookiecutter and cruft both load (``_extensions``).

The hooks import their helpers from this checkout's ``hooks`` folder, and only
this module can tell them where that is: both tools put the checkout on
``sys.path`` while they render, but cruft (which renders the template again to
update a project) does not pass cookiecutter's ``_repo_dir``.
"""

import json
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_DIR = Path(__file__).resolve().parent


class TemplateDirectory(Extension):
    """``{{ template_dir }}``: the absolute path of the checkout being rendered."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["template_dir"] = str(TEMPLATE_DIR)


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string.

    Jinja's ``tojson`` writes a character beyond U+FFFF as a JSON surrogate pair
    (``\\ud86f\\ude76``), which TOML refuses; TOML also wants DEL escaped.
    """
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


class TomlStrings(Extension):
    """``{{ answer | toml_string }}``: a free-text answer quoted for pyproject.toml."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["toml_string"] = toml_string
