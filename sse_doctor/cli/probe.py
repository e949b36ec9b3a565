"""`sse-doctor probe URL`: one stream observed, every check run.

On a terminal a live panel shows the stream while it runs; `--follow` prints every item
instead. Ctrl-C or SIGTERM ends the observation early: the report is made from what was
seen, marked interrupted, with the checks that needed the whole window incomplete.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from sse_doctor.cli.output import check_outputs, emit_and_exit, emit_values
from sse_doctor.errors import EXIT_OK
from sse_doctor.plan import plan_command
from sse_doctor.plan.execute import Wrap, execute


def probe(values: dict[str, Any]) -> int:
    check_outputs(values)
    plan = plan_command("probe", values)
    target, session = plan.target, plan.session
    opts, ws_opts = plan.options
    to_stdout = values["json_out"] == "-"
    stderr = Console(stderr=True)
    printer = None
    wrap: Wrap | None = None
    # The live view (rich.live and friends) only when it shows: not for CI's plain runs.
    if values["follow"]:
        from sse_doctor.cli.live_view import Printer

        printer = Printer(session, to_stdout, opts.idle_limit, target.redactor,
                          values["verbose"])
    if not values["follow"] and not values["quiet"] and not to_stdout and stderr.is_terminal:
        from sse_doctor.cli.live_view import LivePanel, with_panel

        panel = LivePanel(session, target.url, opts.duration, opts.idle_limit, opts,
                          ws_opts, target.redactor)

        def wrap(coro: Any) -> Any:
            return with_panel(coro, panel, stderr)

    outcome = execute(plan, wrap=wrap)
    report, stop = outcome.report, outcome.stop
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
