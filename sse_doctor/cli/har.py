"""`sse-doctor har FILE`: what a browser did to its streams, read from a HAR capture."""

from __future__ import annotations

import sys
from typing import Any

from sse_doctor.cli.output import check_outputs, emit_and_exit
from sse_doctor.plan import plan_command
from sse_doctor.plan.execute import execute


def har_command(values: dict[str, Any]) -> int:
    check_outputs(values)
    plan = plan_command("har", values)
    outcome = execute(plan)
    if not outcome.report.results and values["json_out"] != "-" and not values["quiet"] \
            and plan.empty_note:
        sys.stderr.write(plan.empty_note + "\n")
    return emit_and_exit(outcome.report, plan.redactor, values, outcome.stop)
