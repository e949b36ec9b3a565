"""The one way a plan runs to its report: in the command line's own event loop (with Ctrl-C,
SIGTERM and SIGHUP handled: `execute`) or inside a caller's loop (the Python API: `conclude`).

Either way the results are concluded the same: a plan cut short by a signal reports what it
saw (`Plan.interrupted` marks what a stopping plan returned; `Plan.partial` salvages what a
cancelled one did), and `Plan.report` makes the one Report the renderers read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sse_doctor import feed, interrupt
from sse_doctor.model import Report, Result
from sse_doctor.plan.base import Plan

# wrap(coroutine of the plan's results) -> the coroutine to await instead (a live panel, a
# progress bar around it)
Wrap = Callable[[Coroutine[Any, Any, list[Result]]], Awaitable[list[Result]]]


@dataclass
class Outcome:
    report: Report
    stop: interrupt.Stop  # whether (and by which signal) the run was interrupted


async def _in_session(plan: Plan, name: str, wrap: Wrap | None) -> list[Result]:
    # Its own task: the session becomes current for the plan's tasks, not for the caller's.
    feed.start(plan.session)
    coro = plan.run(name)
    return await (wrap(coro) if wrap is not None else coro)


def finish(plan: Plan, results: list[Result] | None, stop: interrupt.Stop | None,
           started: datetime, t0: float) -> Report:
    """Conclude a run: `results` (None: a signal cancelled it) into the plan's report."""
    interrupted = stop is not None and stop.interrupted
    if results is None:  # cancelled: what it finished, and the rest
        reason = f"interrupted ({stop.name})" if interrupted else "stopped"
        results = plan.partial(reason) if plan.partial is not None else []
    if interrupted and plan.interrupted is not None:  # its checks saw a short window
        results = plan.interrupted(results)
    return plan.report(results, started, time.perf_counter() - t0, interrupted=interrupted)


def execute(plan: Plan, name: str | None = None, *, wrap: Wrap | None = None) -> Outcome:
    """Run `plan` in a fresh event loop to its report. The first Ctrl-C (SIGTERM, SIGHUP)
    stops it: a plan with a session ends early and reports what it saw, any other is
    cancelled and reports what it finished (`Outcome.stop` says which signal came). For a
    plan whose stop is its normal end (`Plan.stop_is_end`: the proxy) a stop it obeyed in
    time leaves the report complete and `Outcome.stop` not interrupted."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    session = plan.session

    async def main(stop: interrupt.Stop) -> list[Result]:
        if session is not None:
            session.stop = stop.event
            stop.on_stop(lambda: session.set_stop(f"interrupted ({stop.name})"))
        return await _in_session(plan, name or plan.command, wrap)

    results, stop = interrupt.run(main, cancel=session is None, grace_s=plan.grace_s)
    if plan.stop_is_end and results is not None:
        stop = interrupt.Stop()  # it ended as it should (the proxy at Ctrl-C): nothing cut short
    return Outcome(finish(plan, results, stop, started, t0), stop)


async def conclude(plan: Plan, name: str | None = None) -> Report:
    """Run `plan` inside the running event loop to its report (no signal handlers: the
    caller's loop owns them). Cancelling the caller cancels the plan; its connections close."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    if plan.session is not None and plan.session.stop is None:
        plan.session.stop = asyncio.Event()
    results = await asyncio.ensure_future(_in_session(plan, name or plan.command, None))
    return finish(plan, results, None, started, t0)
