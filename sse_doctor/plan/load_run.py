"""`load` as a Plan: the fleet run from an event loop, and its one conclusion.

The fleet (sse_doctor.load.fleet) is a blocking loop over its worker processes' pipes, so the
plan runs it in a thread and tells it to stop through a threading.Event when the plan's live
session is stopped (Ctrl-C, SIGTERM, SIGHUP, a suite's deadline): the workers close their
streams and hand back their counts, and the report is made from them, as before.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sse_doctor import feed
from sse_doctor.conclude.load import load_result, unreachable_result
from sse_doctor.model import Result
from sse_doctor.plan.base import Plan
from sse_doctor.plan.load import plan_load


def plan(values: dict[str, Any]) -> Plan:
    """`load` option values -> a Plan (UsageError on bad values, the open-files limit too);
    `--profile llm` loads completions instead of holding streams (plan.llm_load_run)."""
    if values.get("profile") == "llm":
        from sse_doctor.plan import llm_load_run

        return llm_load_run.plan(values)
    from sse_doctor.load.fleet import STOP_GRACE_S, plan_workers, preflight, run_fleet

    lt, settings, target = plan_load(values)
    settings.workers, _ = plan_workers(settings.streams, settings.workers)
    session = feed.Feed()
    views: list[Any] = []

    async def run(name: str) -> list[Result]:
        loop = asyncio.get_running_loop()
        unreachable = await loop.run_in_executor(None, preflight, lt)
        if unreachable is not None:
            return [unreachable_result(target, unreachable)]
        stop = threading.Event()
        session.on_stop(stop.set)
        fleet = loop.run_in_executor(None, run_fleet, lt, settings,
                                     views[-1] if views else None, stop)
        try:
            # shielded: a cancelled caller stops the workers, and the thread still reaps them
            obs = await asyncio.shield(fleet)
        except asyncio.CancelledError:
            stop.set()
            raise
        return [load_result(target, obs, name)]

    # ramp, hold, the timeouts, the workers' own stop grace
    budget = settings.ramp_s + settings.duration + 2 * target.timeout + 10 \
        + STOP_GRACE_S
    return Plan("load", target, budget, run, session=session,
                # the workers get their own grace to report, and the joins
                grace_s=STOP_GRACE_S + 5.0, set_view=views.append)
