"""The experiment commands: disconnect, duplicates, storm, resume, checkup.

Each plans its options (sse_doctor.plan.experiments), runs the plan with progress on a
terminal, and renders one report with one `scenarios` entry per experiment. Ctrl-C (or
SIGTERM) closes every connection, reports what was done so far and exits 130 (143).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Console

from sse_doctor import interrupt
from sse_doctor.cli.output import check_outputs, emit_and_exit
from sse_doctor.model import Report, ScenarioResult
from sse_doctor.plan import Plan, plan_command

EXPERIMENTS = ("disconnect", "duplicates", "storm", "resume", "checkup")


def execute(name: str, values: dict[str, Any]) -> int:
    check_outputs(values)
    plan = plan_command(name, values)
    silent = values["quiet"] or values["json_out"] == "-"
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    results, stop = run_with_progress(plan, name, silent)
    if results is None:  # Ctrl-C or SIGTERM cancelled the plan: what it finished, and the rest
        results = plan.partial() if plan.partial is not None else []
    report = Report(command=name, url=plan.target.url, protocol=plan.target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0, results=results,
                    multi=True, interrupted=stop.interrupted)
    return emit_and_exit(report, plan.target.redactor, values, stop)


def run_with_progress(plan: Plan, name: str,
                      silent: bool) -> tuple[list[ScenarioResult] | None, interrupt.Stop]:
    """Run a plan (None when a signal cancelled it); on a terminal, show what runs and for
    how long (and storm cycles)."""
    console = Console(stderr=True)
    if silent or not console.is_terminal:
        return interrupt.run(lambda stop: plan.run(name), cancel=True)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{name} {plan.target.display_url()}", total=None)
        if plan.on_progress is not None:
            plan.on_progress(lambda done, total: progress.update(task, completed=done,
                                                                 total=total))
        return interrupt.run(lambda stop: plan.run(name), cancel=True)

