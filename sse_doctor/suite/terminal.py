"""The suite in a terminal: the verdict first, a table of checks, then the failing checks'
detail in the probe's own report layout."""

from __future__ import annotations

import dataclasses

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sse_doctor.redact import Redactor
from sse_doctor.report import terminal, views
from sse_doctor.suite.runner import CheckOutcome, SuiteRun


def verdict_line(run: SuiteRun) -> Text:
    n, bad = len(run.outcomes), len(run.failed)
    t = Text()
    if bad:
        t.append(" FAILED ", style="reverse bold red")
        t.append(f"  {n} checks, {bad} failed (fail on {run.fail_on})")
    else:
        t.append(" PASSED ", style="reverse bold green")
        t.append(f"  {n} checks, 0 failed (fail on {run.fail_on})")
    t.append(f"  in {run.duration_s:.1f} s", style="dim")
    return t


def checks_table(run: SuiteRun, red: Redactor) -> Table:
    t = Table(title=f"sse-doctor run {red.text(run.suite.path)}", title_justify="left")
    t.add_column("check")
    t.add_column("command")
    t.add_column("result", justify="center")
    t.add_column("failing findings")
    t.add_column("allowed", style="dim")
    for o in run.outcomes:
        result = Text("pass", style="bold green") if o.passed else Text("FAIL", style="bold red")
        t.add_row(red.text(o.spec.name), o.spec.command, result,
                  ", ".join(dict.fromkeys(f.code for f in o.failing)) or "-",
                  ", ".join(sorted({f.code for f in o.allowed})) or "-")
    return t


def render_check(console: Console, o: CheckOutcome, red: Redactor, verbose: bool) -> None:
    # The probe's layout, with the allowed findings set apart so they do not read as faults.
    shown = dataclasses.replace(o.result, findings=o.failing + o.notes)
    title = f"{o.spec.name}  ({o.spec.command} {red.url(o.spec.url)})"
    terminal.render_result(console, shown, red, verbose, title)
    for sub in o.sub_results:
        if sub.observation is not None and views.has_terminal(sub.observation):
            console.print(Text(f"\n{sub.name}", style="bold"))
            views.render_terminal(sub.observation, console, red, verbose, sub)
    if o.allowed:
        console.print(Text("\nAllowed by the suite", style="bold"))
        console.print(terminal.findings_block(o.allowed, red, advice=False))


def render(run: SuiteRun, console: Console, red: Redactor, *, verbose: bool = False) -> None:
    console.print(verdict_line(run))
    console.print(checks_table(run, red))
    for o in run.outcomes if verbose else run.failed:
        console.print()
        render_check(console, o, red, verbose)
    if run.failed and not verbose:
        console.print()
        console.print(verdict_line(run))  # the verdict again under a long detail
