"""The probe's deadline: a plan that ends at the session's stop answers with what it saw; one
that does not is cancelled and salvaged from the live session; a real probe of the lab,
cancelled mid-stream, is salvaged with its observation and the checks run on it."""

from __future__ import annotations

import asyncio
import pathlib

from sse_doctor import feed
from sse_doctor.exporter.config import load_config
from sse_doctor.exporter.probe import DEADLINE_REASON, run_plan
from sse_doctor.lab import LabServer
from sse_doctor.model import Result
from sse_doctor.plan import Plan
from sse_doctor.target import build_target


def _result(name: str) -> Result:
    return Result(name=name, protocol="sse", url="http://x/", findings=[],
                          checks_run=["stalled-stream", "missing-expected-event"])


def test_a_plan_that_ends_at_the_stop_keeps_its_result() -> None:
    async def run(name: str) -> list[Result]:
        stop = feed.stop_event()
        assert stop is not None
        await stop.wait()  # as the transports do: end the connection at the stop
        assert feed.stop_reason() == DEADLINE_REASON
        return [_result(name)]

    plan = Plan("probe", build_target("http://x/"), 1.0, run)
    results, cut = asyncio.run(run_plan(plan, "p", 0.2))
    assert cut and [r.name for r in results] == ["p"]
    # checks that needed the whole window are incomplete, not passed
    assert set(results[0].checks_incomplete) == {"stalled-stream", "missing-expected-event"}


def test_a_plan_that_ignores_the_stop_is_cancelled_and_salvaged() -> None:
    cancelled = []
    salvaged = []

    async def run(name: str) -> list[Result]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return []

    session = feed.Feed()

    def partial(reason: str) -> list[Result]:
        salvaged.append((session.reason, reason))
        return [_result("salvaged")]

    plan = Plan("probe", build_target("http://x/"), 1.0, run, partial=partial, session=session)
    results, cut = asyncio.run(run_plan(plan, "p", 0.1))
    assert cut and cancelled == ["p"]
    assert salvaged == [(DEADLINE_REASON, DEADLINE_REASON)]
    assert [r.name for r in results] == ["salvaged"]


def test_a_plan_within_its_deadline_is_not_cut() -> None:
    async def run(name: str) -> list[Result]:
        return [_result(name)]

    results, cut = asyncio.run(run_plan(Plan("probe", build_target("http://x/"), 1.0, run),
                                        "p", 5))
    assert not cut and results[0].checks_incomplete == []


def test_a_real_probe_cancelled_mid_stream_is_salvaged(lab: LabServer) -> None:
    example = pathlib.Path(__file__).resolve().parents[2] / "examples" / "exporter"
    config = load_config(str(example / "exporter.toml"), {})
    spec, _ = config.modules["sse"].check_spec(config.path, f"{lab.base_url}/sse/stalled",
                                               observe_s=30, env={})
    assert spec.plan.partial is not None and spec.plan.session is not None

    async def main() -> Result:
        session = spec.plan.session
        session.stop = asyncio.Event()

        async def probe() -> list[Result]:
            feed.start(session)
            return await spec.plan.run("stalled")

        task = asyncio.ensure_future(probe())
        # until the stream has shown its first event and a few keepalives (bounded by the
        # test's timeout): the observation in progress is what the salvage works from
        while not session.observations or session.observations[-1].n_comments < 3:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        [result] = spec.plan.partial("cancelled")
        return result

    result = asyncio.run(main())
    obs = result.observation
    assert obs.status == 200 and obs.n_events == 1 and obs.n_comments >= 3
    assert obs.close.by == "client" and obs.close.reason == "cancelled"
    assert "stalled-stream" in result.checks_run
