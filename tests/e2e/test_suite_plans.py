"""Suites hold `load` and `har` checks now that every command is a plan: a har check names its
capture with `file` (relative to the suite), a load check runs its fleet alone."""

from __future__ import annotations

import json
import pathlib

from sse_doctor.suite.loader import SuiteInvalid, load_suite
from tests.support import cli

HAR_DIR = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "har"


def _suite(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    (tmp_path / "captures").mkdir()
    for name in ("healthy.har", "leaky-tab.har"):
        (tmp_path / "captures" / name).write_bytes((HAR_DIR / name).read_bytes())
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_a_suite_runs_har_and_load_checks_beside_a_probe(lab, tmp_path) -> None:
    path = _suite(tmp_path, f"""
[[check]]
name = "page without leaks"
command = "har"
file = "captures/healthy.har"

[[check]]
name = "leaky tab"
command = "har"
file = "captures/leaky-tab.har"

[[check]]
name = "twenty streams"
command = "load"
url = "{lab.url('/sse/clock?interval=0.2')}"
streams = 20
ramp = 100
duration = 1
workers = 1

[[check]]
name = "healthy stream"
url = "{lab.url('/sse/healthy')}"
duration = 2
""")
    r = cli("run", str(path), "--json", "-")
    assert r.returncode == 1, r.stderr  # the leaky tab fails the suite
    doc = json.loads(r.stdout)
    entries = {s["name"]: s for s in doc["scenarios"]}
    assert list(entries) == ["page without leaks", "leaky tab", "twenty streams",
                             "healthy stream"]
    assert entries["page without leaks"]["verdict"] == "healthy"
    assert {f["code"] for f in entries["leaky tab"]["findings"]} == \
        {"concurrent-streams", "request-storm"}
    load = entries["twenty streams"]
    assert load["verdict"] == "healthy" and load["load"]["streams"]["opened"] == 20
    assert entries["healthy stream"]["verdict"] == "healthy"


def test_a_har_check_names_a_readable_file_not_a_url(tmp_path) -> None:
    path = _suite(tmp_path, """
[[check]]
name = "by url"
command = "har"
url = "http://example.invalid/"
file = "captures/healthy.har"

[[check]]
name = "missing"
command = "har"
file = "captures/nothing-here.har"

[[check]]
name = "no file"
command = "load"
file = "captures/healthy.har"
url = "http://127.0.0.1:9/"
""")
    try:
        load_suite(str(path))
    except SuiteInvalid as exc:
        problems = exc.problems
    else:
        raise AssertionError("the suite is invalid")
    assert any('"by url": \'url\' is not a key of \'har\' checks: give \'file\'' in p
               for p in problems), problems
    assert any('"missing": cannot read HAR file' in p and "nothing-here.har" in p
               for p in problems), problems
    assert any('"no file": \'file\' is not a key of \'load\' checks: give \'url\'' in p
               for p in problems), problems


def test_a_suite_runs_an_llm_load_check(lab, tmp_path) -> None:
    """`load --profile llm` is a plan too: a suite check sweeps the lab's queueing completion
    route and its report carries the levels and the knee, as the command's does."""
    body = ('{"model":"lab-gpt","stream":true,"stream_options":{"include_usage":true},'
            '"messages":[{"role":"user","content":"hi"}]}')
    path = tmp_path / "suite.toml"
    # the demo's LLM load row: 2 generation slots, the rest wait in the server's queue
    url = lab.url("/llm/queue/v1/chat/completions?limit=2&ttft_ms=30&length=12&itl_ms=10")
    path.write_text(f"""
[[check]]
name = "completions under load"
command = "load"
url = "{url}"
profile = "llm"
method = "POST"
data = '{body}'
sweep = "1,2,4"
requests = 12
""")
    r = cli("run", str(path), "--json", "-")
    doc = json.loads(r.stdout)
    [entry] = doc["scenarios"]
    llm = entry["load"]["llm"]
    assert [row["concurrency"] for row in llm["levels"]] == [1, 2, 4], r.stderr
    assert all(row["succeeded"] == 12 and row["failed"] == 0 for row in llm["levels"])
    assert {f["code"] for f in entry["findings"]} == {"llm-load-queueing", "llm-load-saturated"}
