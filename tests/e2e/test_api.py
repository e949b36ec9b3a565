"""The Python API (sse_doctor.probe and friends) against the lab: sync and async forms, the
Report's helpers, the sync form inside a running loop, bad options, and a cheap import."""

from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

import sse_doctor
from sse_doctor.codes import get

WINDOW = {"duration": 4, "idle_limit": 2}  # the demo's window: the lab's diagnoses hold in it


def test_probe_reports_a_healthy_stream_with_the_json_parts(lab, tmp_path) -> None:
    report = sse_doctor.probe(lab.url("/sse/healthy"), **WINDOW)
    assert isinstance(report, sse_doctor.Report)
    assert report.verdict == "healthy" and report.healthy and report.codes == frozenset()
    assert not report.failed("warning")
    assert report.connection["status"] == 200 and report.stats["events"] > 0
    assert report.profile is None and report.load is None
    doc = report.to_json()
    assert doc["schema"] == "sse-doctor/report@1" and doc["command"] == "probe"
    assert "nothing wrong found" in report.advice_text()
    html = tmp_path / "r.html"
    assert report.write_html(html) == str(html)
    assert "<html" in html.read_text() and "healthy" in html.read_text()


def test_async_forms_run_together_and_the_sync_form_refuses_a_running_loop(lab) -> None:
    async def main() -> tuple[sse_doctor.Report, sse_doctor.Report, str]:
        with pytest.raises(RuntimeError) as refused:
            sse_doctor.probe(lab.url("/sse/healthy"))
        probe, resume = await asyncio.gather(
            sse_doctor.aprobe(lab.url("/sse/no-heartbeat"), **WINDOW),
            sse_doctor.aresume(lab.url("/sse/resume-gap"), after_events=3))
        return probe, resume, str(refused.value)

    probe, resume, refused = asyncio.run(main())
    assert "await sse_doctor.aprobe(" in refused and "running event loop" in refused
    assert probe.codes == {"no-heartbeat"} and probe.verdict == "error"
    assert probe.failed() and [f.code for f in probe.findings] == ["no-heartbeat"]
    advice = probe.advice_text()
    # the registry's "what to do", as the terminal report words it (wrapped at 100 columns)
    assert " ".join(get("no-heartbeat").advice.split()) in " ".join(advice.split())
    assert "ERROR" in advice and "no-heartbeat" in advice
    assert resume.command == "resume" and resume.codes == {"resume-gap"}
    assert [s["name"] for s in resume.scenarios] == ["resume"]


@pytest.mark.parametrize(("call", "options", "message"), [
    ("probe", {"idle_limti": 3}, "unknown option 'idle_limti' (did you mean 'idle_limit'?)"),
    ("probe", {"idle_limit": -1}, "--idle-limit must be greater than 0"),
    ("probe", {"duration": "soon"}, "duration: expects a number (got 'soon')"),
    ("disconnect", {"mode": "gentle"}, "mode: expects one of rst, fin (got 'gentle')"),
    ("probe", {"profile": "zzz"}, "unknown --profile 'zzz'"),
    ("storm", {"cycles": 0}, "--cycles must be at least 1"),
    ("probe", {"insecure": "yes"}, "insecure: expects true or false"),
])
def test_a_bad_option_raises_the_command_lines_message(call, options, message) -> None:
    with pytest.raises(sse_doctor.OptionError) as exc:
        getattr(sse_doctor, call)("http://127.0.0.1:1/", **options)
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError)  # callers may catch it as a bad argument


def test_a_rule_between_options_is_the_planners() -> None:
    with pytest.raises(sse_doctor.OptionError, match="resume is for SSE streams"):
        sse_doctor.resume("ws://127.0.0.1:1/")
    with pytest.raises(sse_doctor.OptionError, match="either --after-events N or --after S"):
        sse_doctor.disconnect("http://127.0.0.1:1/", after_events=2, after=1.0)


def test_headers_and_secrets(lab) -> None:
    report = sse_doctor.probe(lab.url("/sse/finite"), duration=2, timeout=5,
                              headers={"Authorization": "Bearer s3cr3t-token"},
                              header=["X-Api-Key: k3y-v4lue"])
    text = json.dumps(report.to_json()) + report.advice_text() + repr(report)
    assert report.connection["status"] == 200
    assert "s3cr3t-token" not in text and "k3y-v4lue" not in text


def test_import_is_cheap_and_the_api_is_what_all_names() -> None:
    code = ("import sys, sse_doctor\n"
            "mods = sorted(m for m in sys.modules if m.startswith(('sse_doctor', 'typer',"
            " 'rich', 'httpx', 'click', 'jinja2')))\n"
            "print(mods)\n"
            "print(all(callable(getattr(sse_doctor, n)) for n in sse_doctor.__all__))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    mods, callables = proc.stdout.splitlines()
    assert mods == "['sse_doctor', 'sse_doctor.version']" and callables == "True"


def test_load_test_reports_the_fleet(lab) -> None:
    """In a process of its own: the load workers are forked, and a test process holds the
    lab's threads and sockets."""
    code = ("import json, sys, sse_doctor\n"
            "r = sse_doctor.load_test(sys.argv[1], streams=20, ramp=100, duration=1, workers=1)\n"
            "print(json.dumps({'verdict': r.verdict, 'load': r.load, 'codes': sorted(r.codes)}))\n")
    proc = subprocess.run([sys.executable, "-c", code, lab.url("/sse/clock?interval=0.2")],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "healthy" and out["codes"] == []
    assert out["load"]["streams"]["opened"] == 20 and out["load"]["workers"] == 1


# --- the deadline -------------------------------------------------------------------------------
def test_a_deadline_stops_the_run_as_ctrl_c_does_and_reports_what_it_saw(lab) -> None:
    # /sse/stalled sends one event, then only keepalives: a 30 s window would never end early
    report = sse_doctor.probe(lab.url("/sse/stalled"), duration=30, idle_limit=20, deadline=2)
    assert report.interrupted and report.duration_s < 30
    assert report.connection["status"] == 200 and report.stats["events"] == 1
    doc = report.to_json()
    assert {"stalled-stream", "no-heartbeat"} <= set(doc["checks_incomplete"])
    assert "Incomplete (interrupted before the window ended" in report.advice_text()
    assert "interrupted" in report.text()


@pytest.mark.parametrize("deadline", [0, -1, "2", True, float("inf")])
def test_a_bad_deadline_is_refused(deadline) -> None:
    with pytest.raises(sse_doctor.OptionError, match="deadline expects a number of seconds"):
        sse_doctor.probe("http://127.0.0.1:1/", deadline=deadline)


# --- the check door -------------------------------------------------------------------------------
OUTCOMES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "suites" / "outcomes.toml"
# what `sse-doctor run` decides for these checks of outcomes.toml with --fail-on warning
# (tests/e2e/test_suite_e2e.py asserts the same of the CLI)
RUN_DECIDES = {
    "healthy stream": (True, []),
    "job completes": (False, ["missing-expected-event"]),
    "cache header waived": (True, []),
    "first event fast": (False, ["threshold-missed"]),
    "many events": (False, ["threshold-missed"]),
    "server down": (False, ["target-unreachable"]),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_suite_check_entry_is_judged_as_run_judges_it(lab) -> None:
    doc = tomllib.loads(OUTCOMES.read_text())
    entries = [{**doc["defaults"], **c} for c in doc["check"] if c["name"] in RUN_DECIDES]
    env = {"LAB_HOST": urlsplit(lab.base_url).netloc, "CLOSED_PORT": str(_closed_port())}

    async def main() -> list[sse_doctor.CheckReport]:
        return await asyncio.gather(*(sse_doctor.acheck(e, fail_on="warning", env=env,
                                                        source=OUTCOMES, deadline=30)
                                      for e in entries))

    reports = {r.name: r for r in asyncio.run(main())}
    for name, (passed, failing) in RUN_DECIDES.items():
        report = reports[name]
        assert (report.passed, [f.code for f in report.failing]) == (passed, failing), name
        assert not report.interrupted and report.fail_on == "warning"
    healthy = reports["healthy stream"]
    assert set(healthy.thresholds) == {"max_first_event_ms", "max_gap_s", "min_events"}
    assert all(t["met"] for t in healthy.thresholds.values())
    assert [f.code for f in reports["cache header waived"].allowed] == ["missing-no-cache"]
    first = reports["first event fast"].thresholds["max_first_event_ms"]
    assert first["limit"] == 500 and first["met"] is False and first["measured"] > 500
    text = reports["job completes"].text()
    assert "What to do" in text and "missing-expected-event" in text
    assert "No 'completed' event within 2 s" in text


def test_a_check_cut_by_its_deadline_before_a_response_fails_incomplete(lab) -> None:
    # the route holds its headers 1.3 s
    report = sse_doctor.check({"url": lab.url("/sse/delayed-headers"), "duration": 5},
                              deadline=0.8)
    assert report.interrupted and not report.passed and report.name == "probe"
    assert [f.code for f in report.failing] == ["check-incomplete"]
    assert "No response within the check's deadline (0.8 s)" in report.failing[0].detail
