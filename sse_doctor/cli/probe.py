"""`sse-doctor probe URL`: one stream observed, every check run.

On a terminal a live panel shows the stream while it runs; `--follow` prints every item
instead. Ctrl-C or SIGTERM ends the observation early: the report is made from what was
seen, marked interrupted, with the checks that needed the whole window incomplete.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Console

from sse_doctor import feed, interrupt
from sse_doctor.cli.output import check_outputs, emit_and_exit, emit_values
from sse_doctor.conclude.interrupted import interrupted_result
from sse_doctor.conclude.probe import salvage
from sse_doctor.errors import EXIT_OK
from sse_doctor.model import Report, ScenarioResult
from sse_doctor.plan.probe import plan_probe, run_probe


def probe(values: dict[str, Any]) -> int:
    check_outputs(values)
    target, opts, ws_opts = plan_probe(values)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    to_stdout = values["json_out"] == "-"
    stderr = Console(stderr=True)
    session = feed.Feed()
    printer = panel = None
    # The live view (rich.live and friends) only when it shows: not for CI's plain runs.
    if values["follow"]:
        from sse_doctor.cli.live_view import Printer

        printer = Printer(session, to_stdout, opts.idle_limit, target.redactor,
                          values["verbose"])
    if not values["follow"] and not values["quiet"] and not to_stdout and stderr.is_terminal:
        from sse_doctor.cli.live_view import LivePanel

        panel = LivePanel(session, target.url, opts.duration, opts.idle_limit, opts,
                          ws_opts, target.redactor)

    async def main(stop: interrupt.Stop) -> ScenarioResult:
        session.stop = stop.event
        stop.on_stop(lambda: session.set_stop(f"interrupted ({stop.name})"))
        feed.start(session)
        coro = run_probe(target, opts, ws_opts)
        if panel is not None:
            from sse_doctor.cli.live_view import with_panel

            return await with_panel(coro, panel, stderr)
        return await coro

    result, stop = interrupt.run(main)
    if result is None:  # cancelled: the connection did not end within the grace
        result = salvage(session, target, opts, ws_opts,
                         f"interrupted ({stop.name})" if stop.interrupted else "stopped")
    if stop.interrupted:
        interrupted_result(result)
    report = Report(command="probe", url=target.url, protocol=target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0, results=[result],
                    interrupted=stop.interrupted)
    if printer is not None and printer.closed:
        # `| head -1` had what it wanted: the report files are still written, stdout goes
        # to /dev/null now, and the exit is quiet.
        emit_values(report, target.redactor, values)
        return EXIT_OK
    try:
        # With --follow --json -, the report is the last JSON line (the one with "schema").
        return emit_and_exit(report, target.redactor, values, stop)
    except BrokenPipeError:
        from sse_doctor.cli.live_view import discard_stdout

        discard_stdout()
        return EXIT_OK
