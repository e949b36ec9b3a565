"""The manual (docs/, built by MkDocs): its reference pages are generated from the code by
scripts/gen_docs.py and must be committed fresh; its samples are real runs; every page is in
the navigation; nothing in the project points at a file outside it."""

from __future__ import annotations

import importlib.util
import re
import signal
import sys

import pytest

from sse_doctor.codes import REGISTRY
from sse_doctor.options import COMMANDS
from tests.support import ROOT

DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_docs", module)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
PAGES = GEN.reference_pages()


@pytest.mark.parametrize("path", sorted(PAGES), ids=lambda p: p.name)
def test_the_generated_reference_page_is_fresh(path) -> None:  # noqa: ANN001
    assert path.exists() and path.read_text() == PAGES[path], (
        f"{path.relative_to(ROOT)} is stale: run python scripts/gen_docs.py --no-samples")


def test_the_findings_page_has_every_code_with_its_severity_title_and_advice() -> None:
    page = (DOCS / "reference" / "findings.md").read_text()
    found = {m[0]: m[1:] for m in re.findall(
        r"^## `([a-z0-9-]+)`\n\n\*\*(error|warning|info)\*\*: (.*)\n\n- \*Typical cause\*: "
        r"(.*)\n- \*What to do\*: (.*)$", page, re.M)}
    assert found == {c.code: (c.severity, c.title, c.cause, c.advice) for c in REGISTRY.values()}


def _page_flags(command: str) -> set[str]:
    page = (DOCS / "reference" / "options.md").read_text()
    section = page.split(f"\n## {command}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `-")]
    return {f for row in rows for f in re.findall(r"`(--?[a-zA-Z0-9][a-z0-9-]*)`", row)}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_options_page_lists_every_option_of_each_command(command: str) -> None:
    assert _page_flags(command) == {f for o in COMMANDS[command].options for f in o.flags}


def test_the_exit_codes_page_has_the_codes_the_cli_returns() -> None:
    from sse_doctor import errors
    from sse_doctor.interrupt import exit_code

    page = (DOCS / "reference" / "exit-codes.md").read_text()
    codes = {int(c) for c in re.findall(r"^\| (\d+) \|", page, re.M)}
    assert codes == {errors.EXIT_OK, errors.EXIT_FINDINGS, errors.EXIT_USAGE,
                     errors.EXIT_UNREACHABLE, *(exit_code(s) for s in
                                                (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))}


def test_every_sample_is_a_real_run_and_every_include_exists() -> None:
    samples = {p.stem for p in (DOCS / "samples").glob("*.txt")}
    assert samples == set(GEN.SAMPLES_RUNS), "run python scripts/gen_docs.py"
    for name in samples:
        text = (DOCS / "samples" / f"{name}.txt").read_text()
        assert text.startswith(f"$ sse-doctor {GEN.SAMPLES_RUNS[name][0]} "), name
        assert re.search(r"\n# exit code \d+\n\Z", text), name
        assert "Traceback" not in text, name
    included = set()
    for page in DOCS.rglob("*.md"):
        included |= set(re.findall(r'--8<-- "samples/([\w-]+)\.txt"', page.read_text()))
    assert included == samples




def test_every_page_is_in_the_navigation_and_every_nav_entry_exists() -> None:
    nav = (ROOT / "mkdocs.yml").read_text().split("\nnav:\n", 1)[1]
    listed = set(re.findall(r"([\w/-]+\.md)", nav))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - listed == set(), "add these pages to the nav in mkdocs.yml"
    assert listed - pages == set(), "these nav entries have no page"


def test_nothing_points_at_a_file_outside_the_project() -> None:
    outside = re.compile(r"DESIGN\.md|REFERENCES\.md|/work/shared|/work/wt")
    bad = []
    for folder in ("sse_doctor", "tests", "scripts", "bench", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".c", ".md", ".sh", ".toml", ".html", ".css", ".j2"} \
                    and path.is_file() and outside.search(path.read_text(errors="replace")):
                if path != ROOT / "tests" / "unit" / "test_docs.py":
                    bad.append(str(path.relative_to(ROOT)))
    assert bad == []
