"""The package's shape: no import cycles, a model that does not know its renderers, and
options that are declared once and reach --help and suites alike (the manual's options page
is generated from the same table: tests/unit/test_docs.py)."""

from __future__ import annotations

import ast
import fnmatch
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
                        "sse_doctor.experiments.observation"):
        renderers = {d for d in graph[observation]
                     if d.startswith("sse_doctor.report") or d.endswith((".render", ".stats"))}
        assert not renderers, f"{observation} imports its renderers: {renderers}"
    for mod in ("sse_doctor.demo", "sse_doctor.suite.loader", "sse_doctor.plan"):
        assert not any(d.startswith("sse_doctor.cli") for d in graph[mod]), mod


# --- layers ---------------------------------------------------------------------------------
# One direction of travel: options -> plan -> engine (observes, records) -> checks (pure, judge)
# -> one place per command that concludes -> report -> CLI. As imports: a module may import
# only from its own layer and the layers this table allows it; every module is in one layer
# (the first pattern that names it, exact names before wildcards). docs/architecture.md draws
# the same map.
LAYERS: dict[str, tuple[str, ...]] = {
    # below everything: no import from the package at all
    "data": ("sse_doctor.codes", "sse_doctor.errors", "sse_doctor.units", "sse_doctor.version"),
    # pure values and sans-I/O cores: parsers, protocol state machines, observations
    "core": ("sse_doctor.redact", "sse_doctor.model", "sse_doctor.options", "sse_doctor.target",
             "sse_doctor.*.observation", "sse_doctor.ws.options", "sse_doctor.ws.closecodes",
             "sse_doctor.ws.stats", "sse_doctor.sse.parser", "sse_doctor.har",
             "sse_doctor.load.http1", "sse_doctor.load.histogram", "sse_doctor.load.recorder",
             "sse_doctor.load.streams", "sse_doctor.load.llm.record",
             "sse_doctor.load.llm.aggregate", "sse_doctor.profiles.core",
             "sse_doctor.profiles.*.protocol", "sse_doctor.profiles.*.messages",
             "sse_doctor.profiles.*.codec", "sse_doctor.profiles.*.sdk",
             "sse_doctor.profiles.mcp.exchange", "sse_doctor.profiles.mcp.modern",
             "sse_doctor.watchers.spec", "sse_doctor.watchers.series",
             "sse_doctor.proxy.records"),
    # pure judges: observations in, findings out
    "checks": ("sse_doctor.checks", "sse_doctor.checks.*", "sse_doctor.profiles.*.checks",
               "sse_doctor.profiles.hints"),
    # the imperative shell that observes and records: sockets, processes, clocks
    "engine": ("sse_doctor.interrupt", "sse_doctor.feed", "sse_doctor.loop_watch",
               "sse_doctor.sse", "sse_doctor.sse.*",
               "sse_doctor.ws", "sse_doctor.ws.*", "sse_doctor.watchers", "sse_doctor.watchers.*",
               "sse_doctor.experiments", "sse_doctor.experiments.*", "sse_doctor.load",
               "sse_doctor.load.driver", "sse_doctor.load.fleet", "sse_doctor.load.threaded",
               "sse_doctor.load.llm", "sse_doctor.load.llm.runner",
               "sse_doctor.profiles.*.driver", "sse_doctor.proxy.run",
               "sse_doctor.proxy.mitm_env"),
    # observations + checks -> a command's result (the profiles conclude their conversations)
    "conclude": ("sse_doctor.conclude", "sse_doctor.conclude.*", "sse_doctor.profiles",
                 "sse_doctor.profiles.*", "sse_doctor.proxy.streams"),
    # option values -> a validated Plan that runs engines and concludes
    "plan": ("sse_doctor.plan", "sse_doctor.plan.*", "sse_doctor.commandline"),
    # one report model -> terminal, JSON, JUnit, HTML
    "report": ("sse_doctor.report.*", "sse_doctor.load.terminal", "sse_doctor.load.llm.terminal",
               "sse_doctor.ws.render", "sse_doctor.proxy.har_out"),
    # the misbehaving servers: they know only data, never the doctor's judgement
    "lab": ("sse_doctor.lab", "sse_doctor.lab.*"),
    # what users run: the CLI, suites, demo, proxy, Locust users, the package's public face
    "command": ("sse_doctor", "sse_doctor.__main__", "sse_doctor.cli", "sse_doctor.cli.*",
                "sse_doctor.suite", "sse_doctor.suite.*", "sse_doctor.demo",
                "sse_doctor.demo_load", "sse_doctor.proxy", "sse_doctor.proxy.*",
                "sse_doctor.locust", "sse_doctor.exporter", "sse_doctor.exporter.*",
                "sse_doctor.api", "sse_doctor.pytest_plugin"),
}
MAY_IMPORT: dict[str, set[str]] = {
    "data": set(),
    "core": {"data"},
    "checks": {"data", "core"},
    "engine": {"data", "core"},
    "conclude": {"data", "core", "checks", "engine"},
    "plan": {"data", "core", "checks", "engine", "conclude"},
    "report": {"data", "core", "checks"},
    "lab": {"data", "core"},
    "command": {"data", "core", "checks", "engine", "conclude", "plan", "report", "lab"},
}


def layer_of(module: str) -> str | None:
    for layer, patterns in LAYERS.items():
        if module in patterns:
            return layer
    for layer, patterns in LAYERS.items():
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return layer
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for mod, deps in sorted(graph.items()):
        layer = layer_of(mod)
        if layer is None:
            out.append(f"{mod} is in no layer: add it to LAYERS")
            continue
        for dep in sorted(deps):
            dep_layer = layer_of(dep)
            if dep_layer != layer and dep_layer not in MAY_IMPORT[layer]:
                out.append(f"{mod} ({layer}) imports {dep} ({dep_layer})")
    return out


def test_the_layering_check_finds_an_upward_import() -> None:
    graph = {"sse_doctor.codes": set(), "sse_doctor.model": {"sse_doctor.codes"},
             "sse_doctor.checks.http_checks": {"sse_doctor.model", "sse_doctor.sse.transport"},
             "sse_doctor.sse.transport": set(), "sse_doctor.nowhere": set()}
    assert layer_violations(graph) == [
        "sse_doctor.checks.http_checks (checks) imports sse_doctor.sse.transport (engine)",
        "sse_doctor.nowhere is in no layer: add it to LAYERS"]


def test_no_module_imports_a_layer_above_it() -> None:
    assert layer_violations(import_graph()) == []


def test_no_module_imports_another_modules_private_names() -> None:
    found = []
    for mod, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sse_doctor"):
                found += [f"{mod}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


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


# --- the API is the only door -----------------------------------------------------------------
# What runs the doctor from outside the command line (the exporter, the Locust users, the pytest
# plugin) goes through the public API (sse_doctor.api, re-exported by sse_doctor), never inside
# the plans, models or renderers: the API is what is documented and kept stable, and one door
# means one behaviour. Each may also import its own modules, the data modules below and its
# named exception (Locust hosts the load engine: its streams run inside Locust's users).
API = ("sse_doctor", "sse_doctor.api")
DATA_MODULES = ("sse_doctor.codes", "sse_doctor.units", "sse_doctor.redact", "sse_doctor.version")
DOOR_USERS: dict[str, tuple[str, ...]] = {
    "sse_doctor.exporter": ("sse_doctor.exporter", "sse_doctor.exporter.*"),
    "sse_doctor.locust": ("sse_doctor.load", "sse_doctor.load.driver", "sse_doctor.load.fleet",
                          "sse_doctor.load.observation", "sse_doctor.load.recorder",
                          "sse_doctor.load.streams", "sse_doctor.load.threaded"),
    "sse_doctor.pytest_plugin": (),
}


def door_violations(graph: dict[str, set[str]],
                    dynamic: dict[str, set[str]] | None = None) -> list[str]:
    """Imports by the API's users of anything but the API, their own modules, data modules
    and their named exceptions (`dynamic`: importlib.import_module calls, by module)."""
    out = []
    for user, own in DOOR_USERS.items():
        allowed = (*API, *DATA_MODULES, *own)
        for mod in sorted(graph):
            if mod != user and not mod.startswith(user + "."):
                continue
            for dep in sorted(graph[mod] | (dynamic or {}).get(mod, set())):
                if not any(fnmatch.fnmatchcase(dep, p) for p in allowed):
                    out.append(f"{mod} imports {dep}: use the public API (sse_doctor.api)")
    return out


def dynamic_imports() -> dict[str, set[str]]:
    """importlib.import_module("sse_doctor...") calls with a literal name, by module."""
    out: dict[str, set[str]] = {}
    for mod, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") \
                    and node.args and isinstance(node.args[0], ast.Constant) \
                    and str(node.args[0].value).startswith("sse_doctor"):
                out.setdefault(mod, set()).add(str(node.args[0].value))
    return out


def test_the_door_check_finds_a_way_around_the_api() -> None:
    graph = {"sse_doctor.exporter.probe": {"sse_doctor.api", "sse_doctor.exporter.config",
                                           "sse_doctor.units", "sse_doctor.suite.runner"},
             "sse_doctor.locust": {"sse_doctor.load.fleet", "sse_doctor.conclude.load"},
             "sse_doctor.pytest_plugin": {"sse_doctor.codes"},
             "sse_doctor.cli.main": {"sse_doctor.plan"}}
    assert door_violations(graph, {"sse_doctor.pytest_plugin": {"sse_doctor.model"}}) == [
        "sse_doctor.exporter.probe imports sse_doctor.suite.runner: use the public API "
        "(sse_doctor.api)",
        "sse_doctor.locust imports sse_doctor.conclude.load: use the public API "
        "(sse_doctor.api)",
        "sse_doctor.pytest_plugin imports sse_doctor.model: use the public API "
        "(sse_doctor.api)"]


def test_the_exporter_locust_and_the_pytest_plugin_use_only_the_api() -> None:
    graph = import_graph()
    assert {"sse_doctor.exporter", "sse_doctor.locust", "sse_doctor.pytest_plugin"} <= set(graph)
    assert door_violations(graph, dynamic_imports()) == []
