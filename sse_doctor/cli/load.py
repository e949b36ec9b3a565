"""`sse-doctor load URL`: many streams at once, fleet-level findings."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from sse_doctor.cli.output import check_outputs, emit_and_exit
from sse_doctor.plan import plan_command
from sse_doctor.plan.execute import execute


def load_command(values: dict[str, Any]) -> int:
    check_outputs(values)
    plan = plan_command("load", values)
    console = Console(stderr=True)
    if not (values["quiet"] or values["json_out"] == "-") and console.is_terminal \
            and plan.set_view is not None:
        if values.get("profile") == "llm":  # one row per level as the sweep goes
            from sse_doctor.load.llm.terminal import LevelProgress

            settings = plan.options
            plan.set_view(LevelProgress(console, plan.display_url(), settings.levels,
                                        settings.mode))
        else:
            from sse_doctor.load.terminal import LiveView

            plan.set_view(LiveView(console, plan.display_url()))
    # SIGTERM (a CI job's timeout, `kill`) and SIGHUP (the terminal closed) end the run the
    # way Ctrl-C does: the workers are told to stop and hand back their counts.
    outcome = execute(plan)
    return emit_and_exit(outcome.report, plan.redactor, values, outcome.stop)
