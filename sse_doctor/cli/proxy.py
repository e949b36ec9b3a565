"""`sse-doctor proxy --listen H:P --upstream URL`: a counting reverse proxy in front of a
server, to watch live what real clients do to their streams.

Ctrl-C (or SIGTERM, or --duration) is its normal end: the report is complete and the exit
code is that of its findings."""

from __future__ import annotations

import json
import sys
from typing import Any

from sse_doctor.cli.output import (
    check_outputs,
    check_writable,
    emit_and_exit,
    err,
    exit_code_for,
    write,
)
from sse_doctor.conclude.proxy import unreachable_line
from sse_doctor.errors import EXIT_UNREACHABLE, UsageError
from sse_doctor.plan import plan_command
from sse_doctor.plan.execute import execute


def proxy_command(values: dict[str, Any]) -> int:
    json_out, har_out, quiet = values["json_out"], values["har_out"], values["quiet"]
    check_outputs(values)
    check_writable(har_out, "--har-out")
    if har_out == "-":
        raise UsageError("--har-out needs a file name")
    plan = plan_command("proxy", values)
    state, red = plan.options, plan.redactor

    from sse_doctor.proxy.live_table import LiveView, is_tty

    assert plan.set_view is not None
    plan.set_view(LiveView(red, state.settings.listen, state.settings.upstream,
                           tty=is_tty() and json_out != "-", quiet=quiet))
    outcome = execute(plan)
    report = outcome.report
    unreachable = unreachable_line(report.results)
    if unreachable is not None:  # nothing was proxied: one line, no report
        err(unreachable)
        return EXIT_UNREACHABLE
    seen = state.seen
    if har_out and seen is not None:
        from sse_doctor.proxy.har_out import to_har

        write(har_out, json.dumps(to_har(list(seen.streams.records.values()), red),
                                   indent=1) + "\n", "--har-out")
    if seen is not None and seen.stopped_by == "mitmdump exited" and seen.errors:
        err(f"mitmdump stopped: {red.text(seen.errors[-1])}")
    if not report.results and json_out != "-" and not quiet and plan.empty_note:
        sys.stderr.write(plan.empty_note + "\n")
    try:
        return emit_and_exit(report, red, values, outcome.stop)
    except OSError:
        # SIGHUP ended it normally, and took the terminal with it: the files are written
        if not plan.session.reason.endswith("(SIGHUP)"):
            raise
        from sse_doctor.cli.live_view import discard_terminal

        discard_terminal()
        return exit_code_for(report, values["fail_on"])
