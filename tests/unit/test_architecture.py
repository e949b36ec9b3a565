"""The package's shape: no import cycles, a model that does not know its renderers, and
options that are declared once and reach --help and suites alike (the manual's options page
is generated from the same table: tests/unit/test_docs.py)."""

from __future__ import annotations

import ast
import pathlib

import pytest

from sse_doctor.commandline import click_command
from sse_doctor.options import COMMANDS
from sse_doctor.suite.loader import command_options

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sse_doctor"


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its body (a function-level
    import is still a dependency; only TYPE_CHECKING blocks are left out)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                targets = [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t.startswith("sse_doctor"):
                    dep = resolve(t)
                    if dep and dep != mod:
                        graph[mod].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_core_does_not_import_renderers_or_the_cli() -> None:
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith(("sse_doctor.cli", "sse_doctor.report", "sse_doctor.__main__")):
            continue
        shell = {d for d in deps if d.startswith("sse_doctor.cli")}
        assert not shell, f"{mod} imports the CLI: {shell}"
    for observation in ("sse_doctor.model", "sse_doctor.ws.observation", "sse_doctor.har",
                        "sse_doctor.scenarios.experiment"):
        renderers = {d for d in graph[observation]
                     if d.startswith("sse_doctor.report") or d.endswith((".render", ".stats"))}
        assert not renderers, f"{observation} imports its renderers: {renderers}"
    for mod in ("sse_doctor.demo", "sse_doctor.suite.loader", "sse_doctor.plan"):
        assert not any(d.startswith("sse_doctor.cli") for d in graph[mod]), mod


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_declared_option_reaches_the_command_line(name: str) -> None:
    spec = COMMANDS[name]
    cmd = click_command(name)
    flags = {f for p in cmd.params if p.param_type_name == "option" for f in p.opts}
    assert flags - {"--help"} == {f for o in spec.options for f in o.flags}
    assert [p.name for p in cmd.params if p.param_type_name == "argument"] == \
        [a.key for a in spec.args]
    for o in spec.options:
        [param] = [p for p in cmd.params if p.name == o.key]
        assert param.help == o.help and param.multiple == o.multiple, o.key


@pytest.mark.parametrize("name", [n for n, c in COMMANDS.items()
                                  if any(a.key == "url" for a in c.args)])
def test_a_suite_check_accepts_exactly_the_commands_options(name: str) -> None:
    keys = set(command_options(name))
    declared = {o.flag[2:].replace("-", "_") for o in COMMANDS[name].options if not o.output}
    assert keys == declared
