"""The hooks' own modules (rules, manifest, code generators), loaded by path.

``hooks/`` is not a package, and the hooks import each other by bare name, so the
tests load them the same way and register them in ``sys.modules``.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from harness.template import HOOKS_DIR


def load_hook_module(name: str) -> ModuleType:
    """Import ``hooks/<name>.py`` by path (registered in sys.modules for dataclasses)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HOOKS_DIR / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load hooks/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:  # mypy reads the hooks through mypy_path = hooks
    import answer_rules
    import codegen_tools
    import manifest
else:
    answer_rules = load_hook_module("answer_rules")
    codegen_tools = load_hook_module("codegen_tools")
    manifest = load_hook_module("manifest")

__all__ = ["answer_rules", "codegen_tools", "load_hook_module", "manifest"]
