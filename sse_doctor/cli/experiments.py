"""The experiment commands: disconnect, duplicates, storm, resume, checkup.

Each plans its options (sse_doctor.plan.experiments), runs the plan with progress on a
terminal, and renders one report with one `scenarios` entry per experiment. Ctrl-C (or
SIGTERM) closes every connection, reports what was done so far and exits 130 (143).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from sse_doctor.cli.output import check_outputs, emit_and_exit
from sse_doctor.plan import Plan, plan_command
from sse_doctor.plan.execute import Outcome, execute

EXPERIMENTS = ("disconnect", "duplicates", "storm", "resume", "checkup")


def execute_command(name: str, values: dict[str, Any]) -> int:
    check_outputs(values)
    plan = plan_command(name, values)
    silent = values["quiet"] or values["json_out"] == "-"
    outcome = run_with_progress(plan, name, silent)
    return emit_and_exit(outcome.report, plan.redactor, values, outcome.stop)


def run_with_progress(plan: Plan, name: str, silent: bool) -> Outcome:
    """Run a plan to its report; on a terminal, show what runs and for how long (and storm
    cycles)."""
    console = Console(stderr=True)
    if silent or not console.is_terminal:
        return execute(plan, name)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{name} {plan.display_url()}", total=None)
        if plan.on_progress is not None:
            plan.on_progress(lambda done, total: progress.update(task, completed=done,
                                                                 total=total))
        return execute(plan, name)
