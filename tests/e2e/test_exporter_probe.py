"""The probe's deadline, end to end: a module's probe of a lab route that never ends answers
within its deadline with what it saw (through the API's check door, as the exporter runs it),
and a real probe of the lab cancelled mid-stream is salvaged with its observation and the
checks run on it. The deadline runner itself is tested in tests/unit/test_plan_execute.py."""

from __future__ import annotations

import asyncio
import pathlib

from sse_doctor import feed
from sse_doctor.api import plan_for
from sse_doctor.exporter.config import load_config
from sse_doctor.exporter.probe import probe_module
from sse_doctor.lab import LabServer
from sse_doctor.model import Result

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "exporter"


def test_a_module_probe_cut_by_its_deadline_before_a_response_is_incomplete(
        lab: LabServer) -> None:
    # the route holds its headers 1.3 s; the probe's deadline is 1 s
    config = load_config(str(EXAMPLE / "exporter.toml"), {})
    run = asyncio.run(probe_module(config.path, config.modules["sse"],
                                   f"{lab.base_url}/sse/delayed-headers", 1.0, {}))
    assert run.cut_short and run.report.interrupted and not run.success
    [incomplete] = [f for f in run.report.failing if f.code == "check-incomplete"]
    assert "No response within the check's deadline (1 s)" in incomplete.detail
    assert f"{lab.base_url}/sse/delayed-headers" in run.text()


def test_a_real_probe_cancelled_mid_stream_is_salvaged(lab: LabServer) -> None:
    plan = plan_for("probe", f"{lab.base_url}/sse/stalled", {"duration": 30})
    assert plan.partial is not None and plan.session is not None

    async def main() -> Result:
        session = plan.session
        session.stop = asyncio.Event()

        async def probe() -> list[Result]:
            feed.start(session)
            return await plan.run("stalled")

        task = asyncio.ensure_future(probe())
        # until the stream has shown its first event and a few keepalives (bounded by the
        # test's timeout): the observation in progress is what the salvage works from
        while not session.observations or session.observations[-1].n_comments < 3:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        [result] = plan.partial("cancelled")
        return result

    result = asyncio.run(main())
    obs = result.observation
    assert obs.status == 200 and obs.n_events == 1 and obs.n_comments >= 3
    assert obs.close.by == "client" and obs.close.reason == "cancelled"
    assert "stalled-stream" in result.checks_run
