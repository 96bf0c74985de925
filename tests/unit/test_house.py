"""The house rules of the package's layout, read from the source with ``ast`` (nothing of
``repair`` is imported): no import circle, no module over 500 lines, package ``__init__`` files
that hold a docstring only, a reason beside every import inside a function, and no ``print`` or
``sys.exit`` below the command line. Each failure names the file and line to fix."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "repair"
MAX_LINES = 500
LAZY = "# lazy:"
# The package __init__ files that hold code, and why; every other one holds a docstring only, so
# that importing one module of a package does not import its neighbours (start-up time).
INIT_WITH_CODE = {
    "repair/__init__.py": "the version",
    "repair/cli/__init__.py": "the lazy click group and the entry point",
}
# Where the program talks to the terminal and ends the process: the click layer and ``-m repair``.
ENTRY_POINTS = ("repair/cli/", "repair/__main__.py")


@dataclass
class Source:
    rel: str  # "repair/x/y.py", as the messages name it
    module: str  # "repair.x.y"; a package is named by its folder
    is_package: bool
    text: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def where(self, node: ast.AST) -> str:
        return f"{self.rel}:{getattr(node, 'lineno', 1)}"

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node


@cache
def sources() -> dict[str, Source]:
    """Every module of the package by its dotted name."""
    out: dict[str, Source] = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        rel = path.relative_to(ROOT)
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(rel))
        src = Source(rel.as_posix(), ".".join(parts), is_package, text, tree)
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                src.parents[child] = parent
        out[src.module] = src
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _under_type_checking(src: Source, node: ast.AST) -> bool:
    """Inside the body (not the ``else``) of an ``if TYPE_CHECKING:``: never run."""
    child = node
    for parent in src.ancestors(node):
        if isinstance(parent, ast.If) and _is_type_checking(parent.test) and child in parent.body:
            return True
        child = parent
    return False


def _in_function(src: Source, node: ast.AST) -> bool:
    return any(
        isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for a in src.ancestors(node)
    )


def runtime_imports(src: Source) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: module level and inside functions alike."""
    found = [
        node
        for node in ast.walk(src.tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not _under_type_checking(src, node)
    ]
    yield from sorted(found, key=lambda node: node.lineno)


def _known(name: str) -> str:
    """The module ``name`` names, or the longest of its parents that is a module here."""
    mods = sources()
    while name not in mods and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imported_modules(src: Source, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules of the package that ``node`` imports; ``from repair.pkg import name`` is
    ``repair.pkg.name`` when that is a module, else ``repair.pkg``."""
    mods = sources()
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = src.module.split(".")
            if not src.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            package = ".".join(base + ([node.module] if node.module else []))
        else:
            package = node.module or ""
        names = [
            f"{package}.{alias.name}" if f"{package}.{alias.name}" in mods else package
            for alias in node.names
        ]
    return [_known(n) for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")]


def import_graph() -> dict[str, dict[str, list[ast.Import | ast.ImportFrom]]]:
    """module -> imported module -> the statements that import it."""
    graph: dict[str, dict[str, list[ast.Import | ast.ImportFrom]]] = {}
    for name, src in sources().items():
        edges = graph.setdefault(name, {})
        for node in runtime_imports(src):
            for target in imported_modules(src, node):
                nodes = edges.setdefault(target, []) if target != name else [node]
                if node not in nodes:
                    nodes.append(node)
    return graph


def strongly_connected(
    graph: dict[str, dict[str, list[ast.Import | ast.ImportFrom]]],
) -> list[list[str]]:
    """Tarjan's components with more than one module, each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _lazy_in(lines: list[str], first: int, last: int) -> bool:
    return any(LAZY in lines[i - 1] for i in range(first, last + 1))


def _comments_above(lines: list[str], lineno: int) -> bool:
    """Whether the comment lines directly above line ``lineno`` hold a ``# lazy:`` reason."""
    i = lineno - 1
    while i >= 1 and lines[i - 1].strip().startswith("#"):
        if LAZY in lines[i - 1]:
            return True
        i -= 1
    return False


def _block_start(src: Source, node: ast.stmt) -> list[ast.stmt]:
    """``node`` and the imports before it in the same block of imports (consecutive import
    statements with nothing but blank and comment lines between them), nearest first."""
    parent = src.parents[node]
    lines = src.lines
    body = next(
        value for _, value in ast.iter_fields(parent) if isinstance(value, list) and node in value
    )
    i = body.index(node)
    run = [node]
    while i > 0 and isinstance(body[i - 1], (ast.Import, ast.ImportFrom)):
        prev, nxt = body[i - 1], body[i]
        gap = lines[(prev.end_lineno or prev.lineno) : nxt.lineno - 1]
        if not all(not line.strip() or line.strip().startswith("#") for line in gap):
            break
        run.append(prev)
        i -= 1
    return run


def has_reason(src: Source, node: ast.Import | ast.ImportFrom) -> bool:
    """A ``# lazy:`` comment on the statement's lines, in the comment lines directly above it, or
    directly above an import before it in the same block of imports."""
    lines = src.lines
    if _lazy_in(lines, node.lineno, node.end_lineno or node.lineno):
        return True
    return any(_comments_above(lines, n.lineno) for n in _block_start(src, node))


def test_no_import_circle() -> None:
    graph = import_graph()
    report = []
    for component in strongly_connected(graph):
        members = set(component)
        report.append(f"circle of {len(component)}: {', '.join(component)}")
        for module in component:
            src = sources()[module]
            lines = sorted(
                (node.lineno, target, node)
                for target, nodes in graph[module].items()
                if target in members
                for node in nodes
            )
            for _, target, node in lines:
                kind = "in a function" if _in_function(src, node) else "module level"
                report.append(f"  {src.where(node)}: imports {target} ({kind})")
    assert not report, (
        "import circles among repair's modules (every import counts, inside functions too; "
        "only `if TYPE_CHECKING:` is free). Break each circle at one of these lines: move the "
        "name both sides need into a module below them both.\n" + "\n".join(report)
    )


def test_no_module_over_500_lines() -> None:
    long = sorted(
        (len(src.lines), src.rel) for src in sources().values() if len(src.lines) > MAX_LINES
    )
    assert not long, (
        f"modules over {MAX_LINES} lines: split each by what its parts do\n"
        + "\n".join(f"  {rel}: {n} lines" for n, rel in long)
    )


def test_package_inits_hold_only_a_docstring() -> None:
    problems = []
    for src in sources().values():
        if not src.is_package:
            continue
        body = src.tree.body
        has_doc = (
            bool(body)
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        )
        code = body[1:] if has_doc else body
        if src.rel in INIT_WITH_CODE:
            if not code:
                problems.append(
                    f"{src.rel}: holds only a docstring now: take it out of "
                    "INIT_WITH_CODE in tests/unit/test_house.py"
                )
        elif code:
            problems.append(
                f"{src.where(code[0])}: code in a package __init__ (every import of "
                "the package runs it): move it into a module of the package"
            )
        if not has_doc:
            problems.append(f"{src.rel}:1: no docstring saying what the package holds")
    assert not problems, "\n".join(problems)


def test_imports_inside_functions_say_why() -> None:
    missing = []
    for src in sources().values():
        for node in runtime_imports(src):
            if _in_function(src, node) and not has_reason(src, node):
                missing.append(f"  {src.where(node)}: {ast.unparse(node)}")
    assert not missing, (
        "imports inside a function without a reason: hoist each to the top of its module, or, "
        f"when it is there for start-up time, put `{LAZY} <why>` at the end of its line or on a "
        "comment line directly above it (one comment above the first of consecutive imports "
        "covers them all); never import inside a function to hide an import circle\n"
        + "\n".join(missing)
    )


def _is_call_to(node: ast.Call, names: tuple[str, ...]) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in names
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and f"{func.value.id}.{func.attr}" in names
    )


def test_no_print_or_exit_below_the_cli() -> None:
    found = []
    for src in sources().values():
        if src.rel.startswith(ENTRY_POINTS):
            continue
        for node in ast.walk(src.tree):
            if isinstance(node, ast.Call) and _is_call_to(
                node, ("print", "exit", "quit", "sys.exit")
            ):
                found.append(f"  {src.where(node)}: {ast.unparse(node.func)}()")
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module == "sys"
                and any(a.name == "exit" for a in node.names)
            ):
                found.append(f"  {src.where(node)}: from sys import exit")
    assert not found, (
        "below repair/cli a command returns a result (or raises a RepairError) and "
        "the cli renders it and picks the exit code:\n" + "\n".join(found)
    )


def test_the_rules_see_what_they_look_for() -> None:
    """The helpers above on a small module of their own, so that a rule cannot pass by going
    blind."""
    text = (
        "from typing import TYPE_CHECKING\n"
        "from repair import errors\n"
        "if TYPE_CHECKING:\n"
        "    from repair import model\n"
        "def f():\n"
        "    # lazy: start-up time\n"
        "    from repair.env import layout\n"
        "    # a second line of the comment\n"
        "    import json\n"
        "\n"
        "    import csv\n"
        "    x = 1\n"
        "    import re\n"
        "    import shutil  # lazy: start-up time\n"
    )
    tree = ast.parse(text)
    src = Source("repair/probe.py", "repair.probe", False, text, tree)
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            src.parents[child] = parent
    nodes = list(runtime_imports(src))
    assert [n.lineno for n in nodes] == [1, 2, 7, 9, 11, 13, 14]  # line 4 is TYPE_CHECKING only
    assert [_in_function(src, n) for n in nodes] == [False, False, True, True, True, True, True]
    assert imported_modules(src, nodes[1]) == ["repair.errors"]
    assert imported_modules(src, nodes[2]) == ["repair.env.layout"]
    reasons = {n.lineno: has_reason(src, n) for n in nodes if _in_function(src, n)}
    assert reasons == {7: True, 9: True, 11: True, 13: False, 14: True}
    graph = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert strongly_connected(graph) == [["a", "b", "c"]]  # type: ignore[arg-type]
