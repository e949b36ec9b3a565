"""The Python API (sse_doctor.probe and friends) against the lab: sync and async forms, the
Report's helpers, the sync form inside a running loop, bad options, and a cheap import."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

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
