"""`sse-doctor run` end to end: the real CLI runs suites against the lab, and CI reads the
outputs (JUnit, JSON, GitHub annotations and job summary)."""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import secrets
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from junitparser import Failure, JUnitXml

from sse_doctor.codes import REGISTRY
from sse_doctor.lab import SCENARIOS
from sse_doctor.lab.experiments import EXPERIMENTS
from sse_doctor.suite.loader import load_suite

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUITES = ROOT / "fixtures" / "suites"
TOKEN = "tok-5ecret-e2e-value"
API_KEY = "key-0123456789-e2e"


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "sse_doctor", *args], capture_output=True,
                          text=True, timeout=timeout, env=full)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_host(lab) -> str:  # noqa: ANN001
    return urlsplit(lab.base_url).netloc


@pytest.fixture(scope="module")
def outcomes(lab, tmp_path_factory):  # noqa: ANN001, ANN201
    """One run of fixtures/suites/outcomes.toml with every output, as on GitHub Actions."""
    out = tmp_path_factory.mktemp("outcomes")
    summary = out / "summary.md"
    summary.write_text("earlier step's summary\n")
    proc = run_cli("run", str(SUITES / "outcomes.toml"), "--fail-on", "warning", "--jobs", "8",
                   "--junit", str(out / "junit.xml"), "--json", str(out / "report.json"),
                   "--html", str(out / "report.html"),
                   env={"LAB_HOST": lab_host(lab), "CLOSED_PORT": str(closed_port()),
                        "SUITE_TOKEN": TOKEN, "SUITE_API_KEY": API_KEY,
                        "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
                        "COLUMNS": "200"})
    return {"proc": proc, "junit": out / "junit.xml", "json": out / "report.json",
            "summary": summary, "html": out / "report.html"}


EXPECTED = {  # check -> (passed, failing codes)
    "healthy stream": (True, []),
    "job completes": (False, ["missing-expected-event"]),
    "cache header waived": (True, []),
    "first event fast": (False, ["threshold-missed"]),
    "no gaps": (False, ["threshold-missed"]),
    "many events": (False, ["threshold-missed"]),
    "server down": (False, ["target-unreachable"]),
    "echo keeps secrets": (False, ["premature-close"]),
}


def test_outcomes_exit_1_and_the_verdict_comes_first(outcomes) -> None:  # noqa: ANN001
    proc = outcomes["proc"]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    report_lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith("::")]
    assert re.search(r"FAILED\s+8 checks, 6 failed \(fail on warning\)", report_lines[0])
    for name, (passed, codes) in EXPECTED.items():
        row = next(ln for ln in report_lines if ln.startswith(f"│ {name} "))
        assert ("pass" if passed else "FAIL") in row
        for code in codes:
            assert code in row
    # the failing checks' detail follows, with what to do
    assert "No 'completed' event within 2 s" in proc.stdout
    assert "What to do" in proc.stdout


def test_outcomes_json_has_one_entry_per_check(outcomes) -> None:  # noqa: ANN001
    report = json.loads(outcomes["json"].read_text())
    assert report["schema"] == "sse-doctor/report@1" and report["command"] == "run"
    assert report["suite"] == {"name": "outcomes", "path": str(SUITES / "outcomes.toml"),
                               "fail_on": "warning", "checks": 8, "failed": 6,
                               "passed": False, "interrupted": False}
    entries = {s["name"]: s for s in report["scenarios"]}
    assert list(entries) == list(EXPECTED)
    for name, (passed, codes) in EXPECTED.items():
        assert entries[name]["passed"] is passed, name
        assert entries[name]["failing"] == codes, name
    healthy = entries["healthy stream"]
    assert healthy["verdict"] == "healthy" and healthy["stats"]["events"] >= 2
    assert all(t["met"] for t in healthy["thresholds"].values())
    assert set(healthy["thresholds"]) == {"max_first_event_ms", "max_gap_s", "min_events"}

    waived = entries["cache header waived"]
    assert waived["allowed"] == ["missing-no-cache"]
    assert waived["allowed_found"] == ["missing-no-cache"]
    assert [f["code"] for f in waived["findings"]] == ["missing-no-cache"]  # still reported

    first = entries["first event fast"]
    assert first["thresholds"]["max_first_event_ms"]["met"] is False
    missed = next(f for f in first["findings"] if f["code"] == "threshold-missed")
    assert missed["evidence"]["threshold"] == "max_first_event_ms"
    assert missed["evidence"]["limit"] == 500 and missed["evidence"]["measured"] > 500
    gaps = next(f for f in entries["no gaps"]["findings"] if f["code"] == "threshold-missed")
    assert gaps["evidence"]["limit"] == 0.1 and gaps["evidence"]["measured"] > 0.1
    many = next(f for f in entries["many events"]["findings"] if f["code"] == "threshold-missed")
    assert many["evidence"]["limit"] == 1000 and 2 <= many["evidence"]["measured"] < 1000

    down = entries["server down"]
    assert [f["code"] for f in down["findings"]] == ["target-unreachable"]
    # the union of findings at the top level
    assert len(report["findings"]) == sum(len(s["findings"]) for s in report["scenarios"])


def test_outcomes_junit_validates_and_reads_well(outcomes) -> None:  # noqa: ANN001
    text = outcomes["junit"].read_text()
    xml = JUnitXml.fromstring(text)
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "outcomes"
    # The counts CI systems show are the ones a consumer recomputes from the testcases.
    declared = (suite.tests, suite.failures, suite.errors, suite.skipped)
    suite.update_statistics()
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == declared == (8, 6, 0, 0)
    assert xml.tests == 8 and xml.failures == 6
    assert suite.time > 0
    cases = {c.name: c for c in suite}
    assert list(cases) == list(EXPECTED)
    for name, (passed, codes) in EXPECTED.items():
        case = cases[name]
        assert case.is_passed is passed, name
        assert case.classname.startswith(("http://", "https://")), case.classname
        if not passed:
            (failure,) = [r for r in case.result if isinstance(r, Failure)]
            assert "\n" not in failure.message and failure.message
            assert failure.type == codes[0]
            assert "What to do:" in failure.text
    job = cases["job completes"].result[0]
    assert job.message == "An expected event never arrived in the window"
    assert "No 'completed' event within 2 s" in job.text
    assert "allowed by the suite: [warning] missing-no-cache" in \
        cases["cache header waived"].system_out


def test_outcomes_github_annotations_and_summary(outcomes) -> None:  # noqa: ANN001
    proc = outcomes["proc"]
    errors = [ln for ln in proc.stdout.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 6
    job = next(ln for ln in errors if "title=job completes%3A" in ln)
    props, _, message = job[len("::error "):].partition("::")
    assert "title=job completes%3A An expected event never arrived in the window" in props
    assert f"file={SUITES / 'outcomes.toml'}".replace(":", "%3A") in props
    line = int(re.search(r"line=(\d+)", props).group(1))
    suite_lines = (SUITES / "outcomes.toml").read_text().splitlines()
    assert suite_lines[line - 1] == "[[check]]"
    assert suite_lines[line] == 'name = "job completes"'
    assert "\n" not in message and "%0AWhat to do: " in message

    summary = outcomes["summary"].read_text()
    assert summary.startswith("earlier step's summary\n")  # appended, not overwritten
    assert "## sse-doctor: 6 of 8 checks failed" in summary
    assert "| cache header waived | probe | ✅ pass | - | `missing-no-cache` |" in summary
    assert "### ❌ job completes" in summary
    assert "What to do: Check the event name" in summary


def test_outcomes_secrets_never_reach_an_output(outcomes) -> None:  # noqa: ANN001
    proc = outcomes["proc"]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr,
             "junit": outcomes["junit"].read_text(), "json": outcomes["json"].read_text(),
             "summary": outcomes["summary"].read_text(), "html": outcomes["html"].read_text()}
    for where, text in texts.items():
        assert TOKEN not in text and API_KEY not in text, where
    # The echo route reflected both into its events: they were there, and they were masked.
    report = json.loads(texts["json"])
    echo = next(s for s in report["scenarios"] if s["name"] == "echo keeps secrets")
    reflected = json.loads(echo["events"][0]["data"])
    assert reflected["headers"]["authorization"] == "[REDACTED]"
    assert reflected["query"] == {"api": "[REDACTED]"}
    assert echo["target"]["url"].endswith("?api=[REDACTED]")


def test_outcomes_html_report_shows_every_check(outcomes) -> None:  # noqa: ANN001
    page = outcomes["html"].read_text()
    assert page.startswith("<!DOCTYPE html>")
    for name in EXPECTED:
        assert name in page
    assert "<svg" in page  # the streams' timelines
    assert not re.search(r"""(src|href)=["']?https?://""", page)  # self-contained
    sections = {name: part for part in page.split('<section class="scenario"')[1:]
                for name in EXPECTED if f"> {html.escape(name)}</h2>" in part}
    for name, (passed, _) in EXPECTED.items():
        assert ("<strong class=\"ok\">passes</strong>" in sections[name]) is passed, name
    waived = sections["cache header waived"]
    assert "allowed by this check" in waived and "missing-no-cache" in waived


def test_json_to_stdout_is_json_only_even_on_github(lab, tmp_path) -> None:  # noqa: ANN001
    suite = tmp_path / "one.toml"
    suite.write_text('[[check]]\nname = "finite"\nurl = "http://${LAB_HOST}/sse/finite"\n'
                     "duration = 2\nexpect_event = ['never']\n")
    proc = run_cli("run", str(suite), "--json", "-",
                   env={"LAB_HOST": lab_host(lab), "GITHUB_ACTIONS": "true"})
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [s["passed"] for s in report["scenarios"]] == [False]
    assert proc.stderr.startswith("::error title=finite%3A")  # annotations moved to stderr


def test_the_example_suite_fails_one_testcase_per_misbehaving_scenario(lab, tmp_path) \
        -> None:  # noqa: ANN001
    """The README's CI example: each lab scenario and experiment whose diagnosis is a warning or
    an error is one failing testcase, failing with exactly that diagnosis."""
    suite = load_suite(str(SUITES / "lab.toml"), env={"LAB_HOST": "h:1"})
    # a route can have a probe and an experiment (MCP's modern server): keyed by both
    by_path = {(urlsplit(c.url).path, c.command): c.name for c in suite.checks}
    rows = [(s.name, (s.path, "probe"), s.expect) for s in SCENARIOS if s.in_demo]
    rows += [(e.name, (e.path, e.command), e.expect) for e in EXPERIMENTS]
    assert sorted(by_path) == sorted(p for _, p, _ in rows), "lab.toml must cover the lab"

    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    proc = run_cli("run", str(SUITES / "lab.toml"), "--fail-on", "warning", "--jobs", "16",
                   "-q", "--junit", str(junit), "--json", str(report),
                   env={"LAB_HOST": lab_host(lab), "LAB_PORT": str(lab.port),
                        "LAB_USER": f"suite-{secrets.token_hex(4)}"})
    assert proc.returncode == 1, proc.stderr
    cases = {c.name: c for c in next(iter(JUnitXml.fromfile(str(junit))))}
    entries = {e["name"]: e for e in json.loads(report.read_text())["scenarios"]}
    for name, path, expect in rows:
        check = by_path[path]
        found = {f["code"]: f["severity"] for f in entries[check]["findings"]}
        assert set(found) == set(expect), name  # the scenario's diagnosis, as in the demo
        serious = {c for c, severity in found.items() if severity != "info"}
        case = cases[check]
        if not serious:
            assert case.is_passed, (name, [r.message for r in case.result])
            continue
        assert not case.is_passed, name
        failure = case.result[0]
        failing = set(re.findall(r"^\[(?:error|warning)\] ([a-z0-9-]+):", failure.text, re.M))
        assert failing == serious, name
        assert failure.message.startswith(REGISTRY[failure.type].title)


def test_ctrl_c_closes_every_connection_and_prints_a_partial_suite_report(lab, tmp_path) \
        -> None:  # noqa: ANN001
    from sse_doctor.lab import LabServer
    from tests.support import interrupt_once_streaming, start_cli

    with LabServer() as slow:
        suite = tmp_path / "s.toml"
        suite.write_text(
            'name = "interrupted"\n'
            f'[[check]]\nname = "quick"\nurl = "{lab.url("/sse/http-error")}"\n'
            f'[[check]]\nname = "long"\nurl = "{slow.url("/sse/healthy")}"\nduration = 30\n')
        # --jobs 1: the checks run in order, so the quick one is done once the long one's
        # stream is open on the second lab.
        proc = start_cli("run", str(suite), "--jobs", "1", "--json", "-")
        out, err = interrupt_once_streaming(proc, slow)
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        report = json.loads(out)
        assert report["suite"]["interrupted"] is True and report["suite"]["passed"] is False
        quick, long = report["scenarios"]
        assert [f["code"] for f in quick["findings"]] == ["http-error"]
        (stopped,) = long["findings"]
        assert stopped["code"] == "check-incomplete" and stopped["evidence"]["interrupted"]
