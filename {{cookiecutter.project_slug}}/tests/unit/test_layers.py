"""Imports point inward: domain, ports, use cases, adapters, then transports and processes.

The ports are the use cases' own contracts (the protocols their adapters
implement), so they know the domain and nothing else. Read from the source
with ``ast``, so an import added anywhere (even one made inside a function, to
load a module on use) is held to the same rule.
"""

import ast
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}

PACKAGE = {{ cookiecutter.package_name }}.__name__
SOURCE = Path({{ cookiecutter.package_name }}.__file__).parent

# Innermost first; a module may import its own layer and the layers before it.
LAYERS = ("domain", "port", "application", "adapter", "entry point")
# The first rule a module's dotted path (below the package) starts with decides its layer.
RULES = (
    ("domain.", "domain"),
    ("application.", "application"),
    ("settings", "port"),
    ("storage.port", "port"),
    ("storage.events", "port"),
    ("storage.api_keys", "port"),
    ("storage.webhooks", "port"),
    ("messaging.port", "port"),
    ("auth.port", "port"),
    ("auth.principal", "port"),
    ("auth.credentials", "port"),
    ("fulfilment.port", "port"),
    # How every retry in the service waits: a policy the use cases apply, like a port's contract.
    ("resilience.backoff", "port"),
    ("resilience.retries", "port"),
    # What a webhook may be sent to, and how one is signed: rules the use cases apply.
    ("webhooks.destinations", "port"),
    ("webhooks.signatures", "port"),
    # The webhook endpoints API's generated messages (api=grpc), like ``orders.v1``.
    ("webhooks.v1", "entry point"),
    ("storage.", "adapter"),
    ("messaging.", "adapter"),
    ("auth.", "adapter"),
    ("fulfilment.", "adapter"),
    ("resilience.", "adapter"),
    ("webhooks.", "adapter"),
    ("observability.", "adapter"),
    ("api.", "entry point"),
    ("orders.", "entry point"),
    ("commands", "entry point"),
    ("console", "entry point"),
    ("container", "entry point"),
    ("workers", "entry point"),
    ("processes", "entry point"),
    ("cli", "entry point"),
    ("__main__", "entry point"),
)


def layer_of(module: str) -> int:
    """The layer of ``module``, a dotted path below the package."""
    for prefix, layer in RULES:
        if module == prefix.rstrip(".") or module.startswith(prefix):
            return LAYERS.index(layer)
    pytest.fail(f"{PACKAGE}.{module} belongs to no layer: add it to RULES")


def own_imports(path: Path) -> set[str]:
    """The package's own modules that ``path`` imports, below the package name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(
            name.removeprefix(f"{PACKAGE}.") for name in names if name.startswith(f"{PACKAGE}.")
        )
    return found


def modules() -> list[tuple[str, Path]]:
    """Every hand-written module of the package, with its dotted path below the package."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).with_suffix("")
        if path.name.endswith(("_pb2.py", "_pb2_grpc.py")) or "migrations" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        if parts:
            found.append((".".join(parts), path))
    return found


def test_every_import_points_inward() -> None:
    outward = [
        f"{module} ({LAYERS[layer_of(module)]}) imports {imported} ({LAYERS[layer_of(imported)]})"
        for module, path in modules()
        for imported in sorted(own_imports(path))
        if layer_of(imported) > layer_of(module)
    ]

    assert not outward, "imports that point outward:\n" + "\n".join(outward)


def test_the_domain_imports_nothing_but_the_domain() -> None:
    for module, path in modules():
        if layer_of(module) == LAYERS.index("domain"):
            assert all(name.startswith("domain.") for name in own_imports(path)), module
