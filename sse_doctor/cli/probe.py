"""`sse-doctor probe URL`: one stream observed, every check run."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Console

from sse_doctor.cli.app import app
from sse_doctor.cli.output import check_outputs, emit_values, exit_code_for
from sse_doctor.commandline import command
from sse_doctor.model import Report
from sse_doctor.plan.probe import plan_probe, run_probe
from sse_doctor.target import Target


@command(app, "probe")
def probe(values: dict[str, Any]) -> int:
    check_outputs(values)
    target, opts, ws_opts = plan_probe(values)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    silent = values["quiet"] or values["json_out"] == "-"
    result = asyncio.run(_with_progress(run_probe(target, opts, ws_opts), target,
                                        opts.duration, silent))
    report = Report(command="probe", url=target.url, protocol=target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0, results=[result])
    emit_values(report, target.redactor, values)
    return exit_code_for(report, values["fail_on"])


async def _with_progress(coro, target: Target, window: float, silent: bool):  # noqa: ANN001
    """Show elapsed time on stderr while a long observation runs (only on a terminal)."""
    err = Console(stderr=True)
    if silent or not err.is_terminal or window < 2:
        return await coro
    t0 = time.perf_counter()
    with err.status(f"observing {target.display_url()}") as status:
        task = asyncio.ensure_future(coro)
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            status.update(
                f"observing {target.display_url()}  {time.perf_counter() - t0:.0f}/{window:g} s"
            )
        return task.result()
