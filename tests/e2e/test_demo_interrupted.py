"""The demo stopped by a signal mid-run: it starts the lab, so it is an end-to-end test."""

from __future__ import annotations

import asyncio
import os
import signal

from sse_doctor.model import (
    Result,
)


def test_the_demo_reports_what_finished_when_sigterm_stops_it(monkeypatch) -> None:  # noqa: ANN001
    """The demo's stages hand over each result as it finishes: a signal mid-run still gets a
    report of those, marked interrupted, and the signal's exit code."""

    from sse_doctor import demo

    async def first_then_signal(plan, progress, done):  # noqa: ANN001, ANN202
        done.append(Result(name="finished-one", protocol="sse", url="http://x/",
                           findings=[], checks_run=[], expected=[]))
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()  # the signal cancels this stage

    monkeypatch.setattr(demo, "_probe_all", first_then_signal)
    report, all_match, stop = demo.run_demo(show_progress=False)
    assert stop.interrupted and stop.exit_code == 143
    assert report.interrupted and [r.name for r in report.results] == ["finished-one"]
    assert all_match
