"""Invalid suites: every problem listed with its location, exit 2, nothing run. And `init`."""

from __future__ import annotations

import pathlib

import pytest

from sse_doctor.suite.loader import load_suite

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVALID = ROOT / "fixtures" / "suites" / "invalid"
















# --- valid suites: what the loader makes of them ----------------------------------------------
def test_defaults_apply_and_check_headers_merge(tmp_path: pathlib.Path) -> None:
    (tmp_path / "body.json").write_text('{"q": 1}')
    suite = tmp_path / "s.toml"
    suite.write_text("""
[defaults]
duration = 3
headers = { Authorization = "Bearer ${T_TOKEN}", X-Team = "a" }
allow = ["no-event-ids"]

[[check]]
name = "inherits"
url = "http://example.test/sse?p=$$1"

[[check]]
name = "overrides"
url = "http://example.test/sse"
duration = 5
headers = { x-team = "b", X-Extra = "${EXTRA}" }
allow = []
method = "POST"
data = "@body.json"
expect_event = "done"
""")
    loaded = load_suite(str(suite), env={"T_TOKEN": "secret-token-1", "EXTRA": "plain-1"})
    a, b = loaded.checks
    assert a.plan.target.url == "http://example.test/sse?p=$1"
    assert a.allow == {"no-event-ids"} and b.allow == frozenset()
    assert a.plan.target.headers == [("Authorization", "Bearer secret-token-1"),
                                     ("X-Team", "a")]
    assert b.plan.target.headers == [("Authorization", "Bearer secret-token-1"),
                                     ("x-team", "b"), ("X-Extra", "plain-1")]
    # duration is in the plan's budget: 5 s against 3 s
    assert b.plan.budget_s - a.plan.budget_s == pytest.approx(2.0)
    assert b.plan.target.method == "POST" and b.plan.target.body == b'{"q": 1}'  # file beside
    assert a.line == 7 and b.line == 11
    # variables expanded into headers are secrets; so is every secret-named variable
    red = loaded.redactor()
    assert red.text("x secret-token-1 plain-1") == "x [REDACTED] [REDACTED]"


def test_a_secret_named_variable_is_masked_wherever_it_is_expanded(tmp_path) -> None:  # noqa: ANN001
    suite = tmp_path / "s.toml"
    suite.write_text('[[check]]\nname = "c"\nurl = "http://h.test/sse?tenant=${API_KEY}"\n')
    loaded = load_suite(str(suite), env={"API_KEY": "abcd-1234"})
    assert loaded.redactor().url(loaded.checks[0].url) == "http://h.test/sse?tenant=[REDACTED]"








