"""Every plan concludes the same way (sse_doctor.plan.execute), without sockets: results into
the one Report, a cancelled plan's partial results, a stopped plan's results marked."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import datetime, timezone

from sse_doctor import feed, interrupt
from sse_doctor.cli.output import exit_code_for
from sse_doctor.model import Result, finding
from sse_doctor.plan.base import Plan
from sse_doctor.plan.execute import (
    DEADLINE_REASON,
    STOP_GRACE_S,
    conclude,
    deadline_grace,
    execute,
    finish,
    run_within,
)
from sse_doctor.target import build_target


def _result(name: str, *codes: str) -> Result:
    return Result(name=name, protocol="sse", url="http://x.invalid/",
                  findings=[finding(c, "detail") for c in codes], checks_run=list(codes))


def _plan(**kw) -> Plan:
    async def run(name: str) -> list[Result]:
        return [_result(name, "no-heartbeat")]

    return Plan("probe", build_target("http://x.invalid/?token=s3cret"), 1.0, run, **kw)


def test_conclude_runs_the_plan_to_its_report() -> None:
    report = asyncio.run(conclude(_plan(multi=True), "first"))
    assert report.command == "probe" and report.multi and not report.interrupted
    assert [r.name for r in report.results] == ["first"] and report.verdict == "error"


def test_a_cancelled_plan_reports_what_partial_salvages_and_the_marks() -> None:
    asked: list[str] = []

    def partial(reason: str) -> list[Result]:
        asked.append(reason)
        return [_result("so far", "stalled-stream")]

    def mark(results: list[Result]) -> list[Result]:
        return [Result(**{**vars(r), "checks_incomplete": ["stalled-stream"]})
                for r in results]

    plan = _plan(partial=partial, interrupted=mark)
    stop = interrupt.Stop(signum=signal.SIGTERM)
    report = finish(plan, None, stop, datetime.now(timezone.utc), time.perf_counter())
    assert asked == ["interrupted (SIGTERM)"] and report.interrupted
    assert [(r.name, r.checks_incomplete) for r in report.results] == \
        [("so far", ["stalled-stream"])]


def test_a_plan_that_finished_is_not_marked_and_a_har_plan_names_its_file() -> None:
    plan = _plan(interrupted=lambda results: [])  # would drop everything if it were called
    report = finish(plan, [_result("probe")], interrupt.Stop(), datetime.now(timezone.utc),
                     time.perf_counter())
    assert [r.name for r in report.results] == ["probe"] and not report.interrupted
    assert plan.url == "http://x.invalid/?token=s3cret"
    assert "s3cret" not in plan.redactor.url(plan.url)  # the target's redactor

    async def run(name: str) -> list[Result]:
        return [Result(name="/ws", protocol="ws", url="ws://x.invalid/ws",
                       findings=[], checks_run=[])]

    har = Plan("har", None, 1.0, run, multi=True, url="capture.har")
    report = asyncio.run(conclude(har))
    assert report.url == "capture.har" and report.protocol == "ws" and report.multi


# --- a stop that is the plan's normal end (the proxy), with real signals -----------------------
def _until_stopped(obey: bool, **kw) -> Plan:
    """A plan that signals itself, then runs until its session is stopped (obey) or forever."""
    session = feed.Feed()

    async def run(name: str) -> list[Result]:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGINT)
        assert session.stop is not None
        await (session.stop.wait() if obey else asyncio.Event().wait())
        return [_result("/events", "concurrent-streams")]

    def partial(reason: str) -> list[Result]:
        return [_result("so far")]

    return Plan("proxy", None, 1.0, run, session=session, partial=partial, multi=True,
                url="http://up.invalid", grace_s=0.05, **kw)


def test_a_stop_that_is_the_plans_end_leaves_a_complete_report(handlers) -> None:  # noqa: ANN001
    outcome = execute(_until_stopped(obey=True, stop_is_end=True))
    assert not outcome.stop.interrupted and not outcome.report.interrupted
    assert [r.name for r in outcome.report.results] == ["/events"]
    assert exit_code_for(outcome.report, "error") == 1  # its findings', not 130


def test_the_same_stop_interrupts_a_plan_whose_end_it_is_not(handlers) -> None:  # noqa: ANN001
    outcome = execute(_until_stopped(obey=True))
    assert outcome.stop.signum == signal.SIGINT and outcome.stop.exit_code == 130
    assert outcome.report.interrupted and [r.name for r in outcome.report.results] == ["/events"]


def test_a_plan_that_ignores_its_stop_is_interrupted_even_when_a_stop_ends_it(
        handlers) -> None:  # noqa: ANN001
    outcome = execute(_until_stopped(obey=False, stop_is_end=True))
    assert outcome.stop.interrupted and outcome.report.interrupted
    assert [r.name for r in outcome.report.results] == ["so far"]  # what partial salvaged


# --- the deadline runner (run_within): a deadline stops a plan as Ctrl-C does -------------------
def _marks(results: list[Result]) -> list[Result]:
    # as the probe plan marks what a stop cut short (conclude.interrupted.interrupted_result)
    return [Result(**{**vars(r), "checks_incomplete": list(r.checks_run)}) for r in results]


def test_a_plan_that_ends_at_the_deadlines_stop_keeps_its_results_marked() -> None:
    session = feed.Feed()
    seen: list[str | None] = []

    async def run(name: str) -> list[Result]:
        stop = feed.stop_event()
        assert stop is not None
        await stop.wait()  # as the transports do: end the connection at the stop
        seen.append(feed.stop_reason())
        return [_result(name, "stalled-stream")]

    plan = Plan("probe", build_target("http://x.invalid/"), 1.0, run, session=session,
                interrupted=_marks)
    results, cut = asyncio.run(run_within(plan, "p", 0.05))
    assert cut and seen == [DEADLINE_REASON] and [r.name for r in results] == ["p"]
    assert results[0].checks_incomplete == ["stalled-stream"]  # incomplete, not passed
    report = asyncio.run(conclude(Plan("probe", build_target("http://x.invalid/"), 1.0, run,
                                       session=feed.Feed(), interrupted=_marks), "q",
                                  deadline_s=0.05))
    assert report.interrupted and [r.name for r in report.results] == ["q"]


def test_a_plan_that_ignores_the_stop_is_cancelled_and_salvaged() -> None:
    cancelled: list[str] = []
    salvaged: list[tuple[str | None, str]] = []
    session = feed.Feed()

    async def run(name: str) -> list[Result]:
        try:
            await asyncio.Event().wait()  # nothing ever sets it
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return []

    def partial(reason: str) -> list[Result]:
        salvaged.append((session.reason, reason))
        return [_result("salvaged", "stalled-stream")]

    plan = Plan("probe", build_target("http://x.invalid/"), 1.0, run, partial=partial,
                session=session, interrupted=_marks)
    assert deadline_grace(plan) == STOP_GRACE_S  # a cancel loses nothing: a short grace
    results, cut = asyncio.run(run_within(plan, "p", 0.05))
    assert cut and cancelled == ["p"] and salvaged == [(DEADLINE_REASON, DEADLINE_REASON)]
    assert [(r.name, r.checks_incomplete) for r in results] == \
        [("salvaged", ["stalled-stream"])]


def test_a_plan_without_a_session_is_cancelled_at_the_deadline_and_one_in_time_is_not_cut() \
        -> None:
    async def never(name: str) -> list[Result]:
        await asyncio.Event().wait()
        return []

    results, cut = asyncio.run(run_within(Plan("storm", build_target("http://x.invalid/"), 1.0,
                                               never), "s", 0.01))
    assert cut and results == []
    plan = _plan(interrupted=lambda results: [])  # would drop everything if it were called
    results, cut = asyncio.run(run_within(plan, "p", 30))
    assert not cut and [r.name for r in results] == ["p"]
    # a plan that cannot salvage (load: its workers report their counts) keeps its own grace
    assert deadline_grace(Plan("load", build_target("http://x.invalid/"), 1.0, never,
                               grace_s=13.0)) == 13.0
