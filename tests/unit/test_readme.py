"""The README is the contract users read: keep it in step with the code and with CI."""

from __future__ import annotations

import pathlib
import re

from sse_doctor.checks.registry import REGISTRY

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_finding_code_is_in_the_readme_table_with_its_severity() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (error|warning|info) \|", README, re.M))
    assert rows == {c.code: c.severity for c in REGISTRY.values()}


def test_the_readme_table_says_what_the_registry_says() -> None:
    rows = {m[0]: m[1:] for m in re.findall(
        r"^\| `([a-z0-9-]+)` \| (?:error|warning|info) \| (.*?) \| (.*?) \| (.*?) \|$",
        README, re.M)}
    for c in REGISTRY.values():
        assert rows[c.code] == (c.title, c.cause, c.advice.replace("|", "\\|")), c.code


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = re.findall(r"```bash\n(python3 -m venv .*)\n```", README)
    assert len(commands) == 2, commands
    demo, tests = commands
    assert "sse-doctor demo" in demo and "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()
