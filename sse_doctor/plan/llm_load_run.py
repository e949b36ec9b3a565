"""`load --profile llm` as a Plan: completions under load, one level after another, and their
one conclusion, so the command, suites and the API run it the way they run every plan.

The plan keeps a feed: a signal (Ctrl-C, SIGTERM, SIGHUP, a suite's deadline) stops the levels,
the completions in flight hand back within STOP_GRACE_S, and the report is made from the levels
that ran (the failures stand; the trends across levels need the whole run).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import urlsplit

from sse_doctor import feed
from sse_doctor.conclude.load import llm_load_result, unreachable_result
from sse_doctor.errors import UsageError
from sse_doctor.model import Result
from sse_doctor.plan.base import Plan
from sse_doctor.plan.load import plan_llm_load
from sse_doctor.target import Target

STOP_GRACE_S = 5.0  # after a stop: how long in-flight completions have to hand back


def _unreachable(target: Target) -> str | None:
    """No TCP connection to the target at all (one finding rather than N failures)."""
    from types import SimpleNamespace

    from sse_doctor.load.fleet import preflight

    parts = urlsplit(target.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return preflight(SimpleNamespace(host=parts.hostname or "", port=port,  # type: ignore[arg-type]
                                     timeout=target.timeout))


def plan(values: dict[str, Any]) -> Plan:
    """`load --profile llm` option values -> a Plan (UsageError on bad values)."""
    settings, target, remote = plan_llm_load(values)
    session = feed.Feed()
    views: list[Any] = []  # a live view with level_done(level) and record(rec), if any

    async def run(name: str) -> list[Result]:
        from sse_doctor.load.llm.observation import LlmLoadObservation
        from sse_doctor.load.llm.runner import run_levels
        from sse_doctor.watchers import WatchError

        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        reason = await loop.run_in_executor(None, _unreachable, target)
        if reason is not None:
            return [unreachable_result(target, reason)]
        stop = asyncio.Event()
        session.on_stop(stop.set)
        view = views[-1] if views else None
        done: list[Any] = []

        def level_done(level: Any) -> None:
            done.append(level)
            if view is not None:
                view.level_done(level)

        try:
            with view if view is not None else contextlib.nullcontext():
                _, watchers = await run_levels(
                    target, settings, stop, on_level=level_done,
                    on_record=view.record if view is not None else None)
        except WatchError as exc:
            raise UsageError(str(exc)) from None
        obs = LlmLoadObservation(url=target.url, protocol="sse", settings=settings,
                                 levels=done, elapsed_s=time.perf_counter() - t0,
                                 interrupted=stop.is_set(),
                                 series=list(watchers.series) if watchers is not None else [],
                                 remote=remote)
        return [llm_load_result(target, obs, name)]

    per_level = settings.duration + settings.request_timeout
    budget = len(settings.levels) * per_level + 2 * target.timeout + settings.grace + 10
    return Plan("load", target, budget, run, session=session, grace_s=STOP_GRACE_S,
                set_view=views.append, options=settings)
