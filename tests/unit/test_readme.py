"""The README is the first page users read: short, its two set-up commands the CI contract,
its links into the manual alive. (Options and codes are in the generated reference pages:
tests/unit/test_docs.py.)"""

from __future__ import annotations

import re

from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = re.findall(r"```bash\n(python3 -m venv .*)\n```", README)
    assert len(commands) == 2, commands
    demo, tests = commands
    assert "sse-doctor demo" in demo and "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_the_readme_is_short_and_its_links_into_the_manual_exist() -> None:
    assert len(README.splitlines()) <= 260
    links = re.findall(r"\]\((docs/[^)#]+|CONTRIBUTING\.md)(?:#[^)]*)?\)", README)
    assert len(links) >= 10, links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == []
