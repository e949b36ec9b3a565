"""The test suite's own shape (CONTRIBUTING.md): every test module lives in tests/unit or
tests/e2e, helpers in tests/support, and no test imports from another test module or from a
conftest.py (pytest loads those itself; importing one runs it twice)."""

from __future__ import annotations

import ast
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ("unit", "e2e")


def _imports(path: pathlib.Path, root: pathlib.Path = TESTS.parent) -> list[str]:
    """Every module a file imports, relative imports resolved, `from a import b` as both `a`
    and `a.b` (b may be a module)."""
    package = path.relative_to(root).parent.parts
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package[: len(package) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            out += [base, *(f"{base}.{a.name}" for a in node.names)]
    return out


def _bad(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return name.startswith("tests.") and (leaf == "conftest" or leaf.startswith("test_"))


def test_every_test_module_is_in_unit_or_e2e() -> None:
    stray = [p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py")
             if p.relative_to(TESTS).parts[0] not in LAYERS]
    assert not stray, (f"move these into tests/unit (no sockets, no processes) or tests/e2e, "
                       f"see CONTRIBUTING.md: {stray}")


def test_no_test_imports_a_test_module_or_a_conftest() -> None:
    bad = [f"{path.relative_to(TESTS).as_posix()}: {name}"
           for path in sorted(TESTS.rglob("*.py")) for name in _imports(path) if _bad(name)]
    assert not bad, "import shared helpers from tests.support instead:\n" + "\n".join(bad)


def test_the_layout_check_sees_each_kind_of_bad_import(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "tests" / "e2e"
    folder.mkdir(parents=True)
    for line in ("from tests.conftest import cli", "from .conftest import cli",
                 "from tests.e2e.test_lab import X", "from . import test_lab",
                 "import tests.unit.test_parser"):
        (folder / "test_x.py").write_text(line + "\n")
        assert any(_bad(n) for n in _imports(folder / "test_x.py", tmp_path)), line
    (folder / "test_x.py").write_text("from tests.support import cli\nfrom . import conftest_x\n")
    assert not any(_bad(n) for n in _imports(folder / "test_x.py", tmp_path))


def test_the_test_extra_holds_every_pin_of_the_unit_extra() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    extras = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert extras["unit"] and set(extras["unit"]) <= set(extras["test"])


def test_every_module_the_xdist_groups_name_exists() -> None:
    """A renamed module would silently leave its group (tests/support/xdist_groups.py) and run
    beside the modules it must not meet."""
    from tests.support.xdist_groups import GROUPS, group_of

    missing = [name for name in GROUPS if not (TESTS / "e2e" / name).is_file()]
    assert missing == [], missing
    assert group_of("tests/e2e/test_load_e2e.py") == group_of("tests/e2e/test_locust.py")
    assert group_of("tests/e2e/test_lab.py") == "tests/e2e/test_lab.py"
