"""Find template conditions that can never match: answers cookiecutter.json does not offer.

``{% if cookiecutter.queue == "rabitmq" %}`` renders as if false for every variant,
so a typo in a choice silently drops code. Files are parsed with cookiecutter's
own Jinja environment (so ``{% raw %}`` blocks and its extensions read as they
will when baking), and every comparison of ``cookiecutter.<question>`` with
string literals is checked against the question's offered values. The hooks'
Python compares answers too (``ANSWERS["api"] == "grpc"``); those are read with
``ast``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from cookiecutter.environment import StrictEnvironment
from jinja2 import TemplateSyntaxError, nodes

from harness.hook_modules import answer_rules
from harness.template import HOOKS_DIR, PROJECT_TEMPLATE, REPO_ROOT, cookiecutter_json

# Keys cookiecutter adds to the context itself, beside cookiecutter.json's.
COOKIECUTTER_KEYS = frozenset({"_template", "_output_dir", "_repo_dir", "_checkout"})
# The hooks cookiecutter renders with Jinja before running them.
RENDERED_HOOKS = ("pre_gen_project.py", "post_gen_project.py")

# question -> the values an answer can take (None: free text, not checked)
Offered = Mapping[str, frozenset[str] | None]


@dataclass(frozen=True)
class Finding:
    """One impossible condition, where it is and why."""

    path: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def offered_values() -> dict[str, frozenset[str] | None]:
    """Every key a template may name, with the values its answers can take."""
    offered: dict[str, frozenset[str] | None] = dict.fromkeys(
        [*cookiecutter_json(), *COOKIECUTTER_KEYS]
    )
    for question, default in cookiecutter_json().items():
        if isinstance(default, list):
            offered[question] = frozenset(str(choice) for choice in default)
    offered["python_version"] = frozenset(answer_rules.SUPPORTED_PYTHON)
    return offered


def _question(node: nodes.Node) -> str | None:
    """``x`` for ``cookiecutter.x`` or ``cookiecutter["x"]``."""
    if isinstance(node, nodes.Getattr) and _is_context(node.node):
        return node.attr
    if isinstance(node, nodes.Getitem) and _is_context(node.node):
        key = node.arg
        return key.value if isinstance(key, nodes.Const) and isinstance(key.value, str) else None
    return None


def _is_context(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "cookiecutter"


def _literals(node: nodes.Node) -> list[str] | None:
    """The string literals of ``"a"`` or ``("a", "b")`` / ``["a", "b"]``; None otherwise."""
    if isinstance(node, nodes.Const):
        return [node.value] if isinstance(node.value, str) else None
    if isinstance(node, nodes.Tuple | nodes.List):
        items = [item.value for item in node.items if isinstance(item, nodes.Const)]
        if len(items) == len(node.items) and all(isinstance(item, str) for item in items):
            return [str(item) for item in items]
    return None


def _compared(node: nodes.Compare) -> Iterator[tuple[nodes.Node, str, nodes.Node]]:
    """Each pair of a (possibly chained) comparison, as (left, operator, right)."""
    left = node.expr
    for operand in node.ops:
        yield left, operand.op, operand.expr
        left = operand.expr


@dataclass(frozen=True)
class Comparison:
    """``cookiecutter.<question>`` (or ``answers["<question>"]``) compared with literals."""

    line: int
    question: str
    values: tuple[str, ...]


def _jinja_pairs(left: nodes.Node, operator: str, right: nodes.Node) -> list[Comparison]:
    if operator in ("eq", "ne"):
        sides = [(left, right), (right, left)]
    elif operator in ("in", "notin"):
        sides = [(left, right)]  # "x" in cookiecutter.q would be a substring test: not ours
    else:
        return []
    found: list[Comparison] = []
    for side, other in sides:
        question, values = _question(side), _literals(other)
        if question is None or values is None or (operator in ("eq", "ne") and len(values) != 1):
            continue
        found.append(Comparison(side.lineno, question, tuple(values)))
    return found


def jinja_comparisons(tree: nodes.Template) -> list[Comparison]:
    """Every comparison of a cookiecutter answer with string literals in a parsed template."""
    return [
        comparison
        for compare in tree.find_all(nodes.Compare)
        for left, operator, right in _compared(compare)
        for comparison in _jinja_pairs(left, operator, right)
    ]


def python_comparisons(source: str, path: str) -> list[Comparison]:
    """Every comparison of ``<answers>["question"]`` with string literals in Python source."""
    found: list[Comparison] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for index, operator in enumerate(node.ops):
            left, right = operands[index], operands[index + 1]
            if isinstance(operator, ast.Eq | ast.NotEq):
                sides = [(left, right), (right, left)]
            else:
                sides = [(left, right)] if isinstance(operator, ast.In | ast.NotIn) else []
            found += [
                Comparison(node.lineno, question, values)
                for side, other in sides
                if (question := _subscript_key(side)) and (values := _constants(other))
            ]
    return found


def _subscript_key(node: ast.expr) -> str | None:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        key = node.slice.value
        return key if isinstance(key, str) else None
    return None


def _constants(node: ast.expr) -> tuple[str, ...]:
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    values = [item.value for item in items if isinstance(item, ast.Constant)]
    if len(values) != len(items) or not all(isinstance(value, str) for value in values):
        return ()
    return tuple(str(value) for value in values)


def impossible(comparisons: Iterable[Comparison], path: str, offered: Offered) -> list[Finding]:
    """The comparisons that name a value their question does not offer."""
    return [
        Finding(path, comparison.line, _not_offered(comparison.question, value, offered))
        for comparison in comparisons
        if (choices := offered.get(comparison.question)) is not None
        for value in comparison.values
        if value not in choices
    ]


def _not_offered(question: str, value: str, offered: Offered) -> str:
    choices = ", ".join(sorted(offered[question] or ()))
    return f"cookiecutter.{question} is compared with {value!r}, which it never is ({choices})"


def parse(source: str) -> nodes.Template:
    """Parse as cookiecutter will render it: its environment, extensions and all."""
    environment = StrictEnvironment(context={"cookiecutter": cookiecutter_json()})
    tree: nodes.Template = environment.parse(source)
    return tree


def jinja_findings(source: str, path: str, offered: Offered) -> list[Finding]:
    """Impossible comparisons and unknown ``cookiecutter.<key>`` names in one template."""
    try:
        tree = parse(source)
    except TemplateSyntaxError as error:
        return [Finding(path, error.lineno, f"Jinja cannot parse it: {error.message}")]
    unknown = [
        Finding(path, node.lineno, f"cookiecutter.{key} is not a key of cookiecutter.json")
        for node in tree.find_all((nodes.Getattr, nodes.Getitem))
        if (key := _question(node)) is not None and key not in offered
    ]
    return unknown + impossible(jinja_comparisons(tree), path, offered)


def python_findings(source: str, path: str, offered: Offered) -> list[Finding]:
    """Comparisons of ``<answers>["question"]`` with values the question does not offer."""
    return impossible(python_comparisons(source, path), path, offered)


def jinja_sources() -> Iterator[tuple[str, str]]:
    """(name, Jinja source) of every path and text file cookiecutter renders."""
    files = sorted(path for path in PROJECT_TEMPLATE.rglob("*") if path.is_file())
    for path in [*files, *(HOOKS_DIR / name for name in RENDERED_HOOKS)]:
        relative = str(path.relative_to(REPO_ROOT))
        yield f"{relative} (its path)", relative
        try:
            yield relative, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # cookiecutter copies binary files without rendering
            continue


def template_findings() -> list[Finding]:
    """Every impossible condition in the generated project's files and paths and the hooks."""
    offered = offered_values()
    findings: list[Finding] = []
    for name, source in jinja_sources():
        findings += jinja_findings(source, name, offered)
    for path in sorted(HOOKS_DIR.glob("*.py")):
        relative = str(path.relative_to(REPO_ROOT))
        findings += python_findings(path.read_text(encoding="utf-8"), relative, offered)
    return findings
