"""The suite's pure parts and the runner's failure paths, without a network."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from junitparser import JUnitXml

from sse_doctor.errors import UsageError
from sse_doctor.model import EventRec, Result, SseObservation, finding
from sse_doctor.plan import Plan
from sse_doctor.redact import Redactor
from sse_doctor.report import junit
from sse_doctor.suite import github
from sse_doctor.suite.loader import CheckSpec, Suite, expand_env
from sse_doctor.suite.runner import SuiteRun, judge, run_check, run_suite
from sse_doctor.suite.thresholds import evaluate
from sse_doctor.target import build_target


# --- environment expansion --------------------------------------------------------------------
@pytest.mark.parametrize("text,env,out", [
    ("Bearer ${T}", {"T": "abc"}, "Bearer abc"),
    ("$$5 and $$${T}", {"T": "x"}, "$5 and $x"),
    ("${MISSING:-fallback}", {}, "fallback"),
    ("${EMPTY:-fallback}", {"EMPTY": ""}, "fallback"),
    ("cost $5, $HOME stays", {"HOME": "/root"}, "cost $5, $HOME stays"),
])
def test_expand_env(text: str, env: dict[str, str], out: str) -> None:
    assert expand_env(text, env)[0] == out
    assert expand_env(text, env)[2] == []


@pytest.mark.parametrize("text,problem", [
    ("${NOPE}", "undefined environment variable ${NOPE}"),
    ("${EMPTY}", "environment variable ${EMPTY} is empty (a CI secret that is not set?)"),
    ("${1X}", "invalid variable reference '${1X}'"),
    ("a ${OPEN", "unterminated '${' in 'a ${OPEN' (write '$$' for a literal '$')"),
])
def test_expand_env_problems(text: str, problem: str) -> None:
    assert expand_env(text, {"EMPTY": ""})[2] == [problem]


# --- judging ----------------------------------------------------------------------------------
def test_judge_fails_on_unallowed_findings_at_or_above_fail_on() -> None:
    found = [finding("missing-no-cache", "w"), finding("stalled-stream", "e"),
             finding("no-event-ids", "i")]
    failing, allowed = judge(found, frozenset({"stalled-stream"}), "warning")
    assert [f.code for f in failing] == ["missing-no-cache"]
    assert [f.code for f in allowed] == ["stalled-stream"]
    assert judge(found, frozenset(), "error")[0] == [found[1]]
    assert judge(found, frozenset(), "never")[0] == []


# --- thresholds -------------------------------------------------------------------------------
def _obs(times: list[float], end_ms: float, first: float | None = None) -> SseObservation:
    obs = SseObservation(url="http://h.test/", status=200, end_ms=end_ms,
                         headers=[("content-type", "text/event-stream")])
    obs.events = [EventRec(t, "message", "x", "", None, False, 1, 0) for t in times]
    obs.n_events = len(times)
    obs.first_event_ms = first if first is not None else (times[0] if times else None)
    return obs


def _result(obs: object, name: str = "c") -> Result:
    return Result(name=name, protocol="sse", url="http://h.test/", findings=[],
                  checks_run=[], observation=obs)


def test_thresholds_met_and_missed_with_evidence() -> None:
    r = _result(_obs([100.0, 400.0, 1900.0], end_ms=2000.0))
    found, report = evaluate({"max_first_event_ms": 150, "max_gap_s": 1.0, "min_events": 3},
                             [r])
    assert report["max_first_event_ms"] == {"limit": 150, "measured": 100.0, "met": True}
    assert report["min_events"] == {"limit": 3, "measured": 3, "met": True}
    assert report["max_gap_s"] == {"limit": 1.0, "measured": 1.5, "met": False}
    (gap,) = found
    assert gap.code == "threshold-missed" and gap.severity == "error"
    assert gap.evidence == {"threshold": "max_gap_s", "limit": 1.0, "measured": 1.5,
                            "gap_start_ms": 400.0}
    assert "1.5 s without an event (from 0.4 s)" in gap.detail


def test_thresholds_count_the_silence_before_the_first_event_and_after_the_last() -> None:
    found, report = evaluate({"max_gap_s": 1.0}, [_result(_obs([100.0], end_ms=3100.0))])
    assert report["max_gap_s"]["measured"] == 3.0
    found, report = evaluate({"max_gap_s": 1.0, "max_first_event_ms": 500},
                             [_result(_obs([], end_ms=2000.0))])
    assert report["max_gap_s"]["measured"] == 2.0
    assert report["max_first_event_ms"] == {"limit": 500, "measured": None, "met": False}
    assert "No event arrived in the window" in found[-1].detail


def test_thresholds_without_a_stream_are_missed_and_say_why() -> None:
    found, report = evaluate({"min_events": 1}, [_result(object())])
    assert report == {"min_events": {"limit": 1, "measured": None, "met": False}}
    assert "could not be measured" in found[0].detail


# --- the runner's failure paths ---------------------------------------------------------------
def _spec(run, budget_s: float = 0.05, name: str = "c") -> CheckSpec:  # noqa: ANN001
    target = build_target("http://127.0.0.1:9/sse")
    return CheckSpec(index=1, name=name, command="probe", url=target.url,
                     plan=Plan("probe", target, budget_s, run), thresholds={"min_events": 1})


def test_a_check_past_its_deadline_fails_with_the_reason() -> None:
    async def never(name: str) -> list[Result]:
        await asyncio.Event().wait()  # nothing ever sets it
        return []

    outcome = asyncio.run(run_check(_spec(never), "error", margin_s=0.0))
    assert not outcome.passed
    codes = [f.code for f in outcome.failing]
    assert codes == ["threshold-missed", "check-incomplete"]
    incomplete = outcome.failing[-1]
    assert "did not finish within 0.0625 s" in incomplete.detail


def test_an_internal_error_fails_only_its_check() -> None:
    async def broken(name: str) -> list[Result]:
        raise RuntimeError("boom")

    async def fine(name: str) -> list[Result]:
        return [_result(_obs([10.0], end_ms=100.0), name)]

    suite = Suite("s.toml", "s", [_spec(broken, name="broken"), _spec(fine, name="fine")])
    run = run_suite(suite, jobs=2, fail_on="error", margin_s=0.0)
    broken_o, fine_o = run.outcomes
    assert [f.code for f in broken_o.failing] == ["threshold-missed", "check-incomplete"]
    assert "internal error: RuntimeError: boom" in broken_o.failing[-1].detail
    assert fine_o.passed and fine_o.result.name == "fine"
    assert [o.spec.name for o in run.failed] == ["broken"]


def test_a_check_that_cannot_start_says_why_in_one_plain_line() -> None:
    async def refused(name: str) -> list[Result]:
        raise UsageError("mitmdump did not start: port 8081 is taken")

    outcome = asyncio.run(run_check(_spec(refused), "error"))
    incomplete = outcome.failing[-1]
    assert incomplete.code == "check-incomplete"
    assert incomplete.detail == ("The check could not start: mitmdump did not start: port 8081 "
                                 "is taken")


def test_several_scenarios_merge_into_one_entry_naming_their_source() -> None:
    async def checkup(name: str) -> list[Result]:
        a = _result(_obs([10.0], end_ms=100.0), "probe")
        b = _result(None, "disconnect")
        b.findings = [finding("cleanup-leak", "state stayed at 1")]
        b.checks_run = ["cleanup-leak"]
        return [a, b]

    spec = _spec(checkup)
    spec.thresholds = {}
    outcome = asyncio.run(run_check(spec, "error"))
    assert len(outcome.sub_results) == 2
    (leak,) = outcome.failing
    assert leak.detail == "disconnect: state stayed at 1"
    assert leak.evidence["scenario"] == "disconnect"
    assert outcome.result.name == "c"


# --- GitHub -----------------------------------------------------------------------------------
def test_workflow_command_escaping() -> None:
    assert github.escape_data("50%\r\nnext: a, b") == "50%25%0D%0Anext: a, b"
    assert github.escape_property("a: b, 50%\n") == "a%3A b%2C 50%25%0A"
    line = github.command("error", "two\nlines", title="x: y", file="s.toml", line=3)
    assert line == "::error title=x%3A y,file=s.toml,line=3::two%0Alines"


def _run_with(findings_by_check: dict[str, list], allow: frozenset[str] = frozenset()) \
        -> SuiteRun:
    async def noop(name: str) -> list[Result]:
        return []

    outcomes = []
    for i, (name, found) in enumerate(findings_by_check.items(), 1):
        spec = _spec(noop, name=name)
        spec.index, spec.line, spec.allow, spec.thresholds = i, 2 * i, allow, {}
        r = _result(None, name)
        r.findings = list(found)
        failing, allowed = judge(r.findings, allow, "error")
        from sse_doctor.suite.runner import CheckOutcome

        outcomes.append(CheckOutcome(spec, r, [], {}, failing, allowed, 0.5))
    suite = Suite("s.toml", "s", [o.spec for o in outcomes])
    return SuiteRun(suite, "error", datetime.now(timezone.utc), 1.0, outcomes)


def test_annotations_are_errors_per_failing_check_and_warnings_for_notes() -> None:
    run = _run_with({"a|b": [finding("stalled-stream", "stopped at 50%"),
                             finding("missing-no-cache", "no header")],
                     "ok": [finding("no-event-ids", "none")]})
    lines = github.annotations(run, Redactor())
    assert lines[0].startswith("::error title=a|b%3A Data events stopped while keepalives "
                               "went on,file=s.toml,line=2::[error] stalled-stream: stopped "
                               "at 50%25%0AWhat to do: ")
    assert lines[1].startswith("::warning title=a|b%3A No Cache-Control%3A no-cache on the "
                               "stream,file=s.toml,line=2::")
    assert len(lines) == 2  # info notes are not annotated
    summary = github.summary(run, Redactor())
    assert "| a\\|b | probe | ❌ fail | `stalled-stream` | - |" in summary


# --- JUnit ------------------------------------------------------------------------------------
def test_suite_junit_survives_control_characters_and_counts_right() -> None:
    bad = finding("malformed-stream", "bytes \x00\x01\x1b[31m from a hostile server")
    cases = [junit.SuiteCase("hostile", "http://h.test/", 1.25, [bad]),
             junit.SuiteCase("fine", "http://h.test/ok", 0.5, [],
                             allowed=[finding("no-event-ids", "none")])]
    text = junit.render_suite("s", cases, Redactor(), time_s=2.0,
                              timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    xml = JUnitXml.fromstring(text)
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (2, 1, 0, 0)
    assert suite.timestamp == "2026-01-02T03:04:05"
    hostile, fine = list(suite)
    assert "\ufffd\ufffd\ufffd[31m" in hostile.result[0].text
    assert hostile.time == 1.25
    assert fine.is_passed and "allowed by the suite: [info] no-event-ids" in fine.system_out
