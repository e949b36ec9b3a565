"""Every finding code the code can emit is defined in the registry (and so, by
docs/reference/findings.md, generated from it). The code is read as source (an AST walk of
sse_doctor/), so a new finding("some-code", ...) fails here before any run ever emits it."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from sse_doctor.codes import REGISTRY
from sse_doctor.lab import SCENARIOS
from sse_doctor.lab.experiments import EXPERIMENTS

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "sse_doctor"
CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")  # kebab-case with at least one dash
FINDING_MAKERS = {"finding", "Finding"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _strings(node: ast.expr) -> list[str]:
    """The string literals of a constant, or of a set/tuple/list of constants."""
    if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
        return [s for e in node.elts if (s := _literal(e)) is not None]
    s = _literal(node)
    return [s] if s is not None else []


def code_takers(trees: list[ast.AST]) -> dict[str, int]:
    """Functions with a parameter named `code` (helpers such as leak_findings(series, code,
    ...) that pass it on to finding()), with its position; plus finding/Finding themselves."""
    out = {name: 0 for name in FINDING_MAKERS}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
                if "code" in names:
                    out.setdefault(node.name, names.index("code"))
    return out


def codes_in_source(tree: ast.AST, takers: dict[str, int] | None = None
                    ) -> list[tuple[int, str, str]]:
    """(line, how, code) for each place the source names a finding code:
    - finding("code", ...) / Finding("code", ...) / finding(code="code", ...), and the same
      for any function with a `code` parameter (see code_takers);
    - ("code", check) pairs of a check plan (a kebab string beside a function);
    - comparisons with a `.code` attribute: f.code == "code", f.code in {"a", "b"}."""
    takers = takers if takers is not None else code_takers([tree])
    out: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        name = _name(node.func) if isinstance(node, ast.Call) else None
        # A method call (headers.get("content-type")) is not one of our helpers.
        helper = name in FINDING_MAKERS or isinstance(getattr(node, "func", None), ast.Name)
        if isinstance(node, ast.Call) and name in takers and helper:
            pos = takers[name]
            args = [node.args[pos]] if len(node.args) > pos else []
            args += [k.value for k in node.keywords if k.arg == "code"]
            for arg in args:
                code = _literal(arg)
                if code is not None and CODE.match(code):
                    how = "finding()" if name in FINDING_MAKERS else f"{name}()"
                    out.append((node.lineno, how, code))
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
            code = _literal(node.elts[0])
            fn = node.elts[1]
            if code is not None and CODE.match(code) and (
                    _name(fn) is not None or isinstance(fn, (ast.Call, ast.Lambda))):
                out.append((node.lineno, "check plan", code))
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_name(s) == "code" and isinstance(s, ast.Attribute) for s in sides):
                for s in sides:
                    out.extend((node.lineno, ".code comparison", c) for c in _strings(s))
    return out


def all_source_codes() -> list[tuple[str, int, str, str]]:
    trees = {path: ast.parse(path.read_text(), filename=str(path))
             for path in sorted(PACKAGE.rglob("*.py"))}
    takers = code_takers(list(trees.values()))
    found = []
    for path, tree in trees.items():
        if path.name == "registry.py":
            continue  # where codes are defined, not used
        for line, how, code in codes_in_source(tree, takers):
            found.append((str(path.relative_to(PACKAGE.parent)), line, how, code))
    return found


def test_every_code_the_source_names_is_registered() -> None:
    found = all_source_codes()
    assert len({code for *_, code in found}) >= 30  # the walk does see the checks
    unknown = [f"{path}:{line}: {how} {code!r}" for path, line, how, code in found
               if code not in REGISTRY]
    assert not unknown, "codes missing from sse_doctor/codes.py:\n" + "\n".join(unknown)


def test_every_registered_code_is_emitted_somewhere() -> None:
    """The other direction: a registered code nothing can emit is a dead entry in the manual."""
    emitted = {code for _, _, how, code in all_source_codes() if how.endswith("()")}
    assert set(REGISTRY) - emitted == set()


def test_lab_expectations_use_registered_codes() -> None:
    for s in (*SCENARIOS, *EXPERIMENTS):
        assert set(s.expect) <= set(REGISTRY), s.name


@pytest.mark.parametrize("source,expected", [
    ('finding("made-up-code", "x")', ["made-up-code"]),
    ('Finding(code="other-made-up", severity="info", title="", detail="")', ["other-made-up"]),
    ('model.finding("dotted-made-up", detail)', ["dotted-made-up"]),
    ('def helper(series, code, grace): return [finding(code, "d")]\n'
     'found = helper(s, "helper-made-up", 2)', ["helper-made-up"]),
    ('def get(code): ...\nx = headers.get("content-type")', []),
    ('PLAN = [("planned-code", check_it), ("plan-two", lambda o, p: [])]',
     ["planned-code", "plan-two"]),
    ('ok = f.code == "compared-code" or f.code in {"set-code", "set-two"}',
     ["compared-code", "set-code", "set-two"]),
    ('x = ("not-a", "pair-of-strings"); y = finding(variable, "d"); z = a == "b-c"', []),
])
def test_the_walk_finds_codes_where_the_source_names_them(source: str,
                                                          expected: list[str]) -> None:
    assert sorted(c for *_, c in codes_in_source(ast.parse(source))) == sorted(expected)
