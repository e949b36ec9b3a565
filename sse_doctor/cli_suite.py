"""`sse-doctor run SUITE.toml` and `sse-doctor init URL`, registered on the main app."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from sse_doctor.cli import (
    OUT,
    PLANNERS,
    FailOn,
    FailOnOpt,
    JsonOut,
    JunitOut,
    Quiet,
    Verbose,
    _check_writable,
    _err,
    _write,
    app,
)
from sse_doctor.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from sse_doctor.report import junit
from sse_doctor.target import build_target

HtmlOut = Annotated[
    str | None,
    typer.Option("--html", metavar="PATH", rich_help_panel=OUT,
                 help="Write a self-contained HTML report to PATH."),
]
DEFAULT_JOBS = 4


def _progress_run(suite, jobs: int, fail_on: str, show: bool):  # noqa: ANN001, ANN202
    from sse_doctor.suite.runner import run_suite

    err = Console(stderr=True)
    if not show or not err.is_terminal:
        return run_suite(suite, jobs=jobs, fail_on=fail_on)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task(f"running {len(suite.checks)} checks", total=len(suite.checks))
        return run_suite(suite, jobs=jobs, fail_on=fail_on,
                         on_done=lambda _o: progress.advance(task))


@app.command("run")
def run_command(
    suite_path: Annotated[
        str, typer.Argument(metavar="SUITE.toml", help="The suite file: checks to run.")
    ],
    jobs: Annotated[
        int, typer.Option("-j", "--jobs", metavar="N", help="Checks run at once.")
    ] = DEFAULT_JOBS,
    json_out: JsonOut = None,
    junit_out: JunitOut = None,
    html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> int:
    """Run every check of a suite file; exit 1 when one fails (2: the suite is invalid)."""
    from sse_doctor.suite import github
    from sse_doctor.suite import report as suite_report
    from sse_doctor.suite import terminal as suite_terminal
    from sse_doctor.suite.loader import SuiteInvalid, load_suite

    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    for path, what in ((json_out, "--json"), (junit_out, "--junit"), (html_out, "--html")):
        _check_writable(path, what)
    try:
        suite = load_suite(suite_path)
    except SuiteInvalid as exc:
        for line in exc.problems:
            sys.stderr.write(line + "\n")
        n = len(exc.problems)
        sys.stderr.write(f"sse-doctor: error: {suite_path}: {n} problem{'s' if n != 1 else ''}"
                         "; nothing was run\n")
        return EXIT_USAGE

    fail = fail_on.value
    to_stdout = json_out == "-"
    run = _progress_run(suite, jobs, fail, show=not (quiet or to_stdout))
    red = suite.redactor()

    if junit_out:
        cases = [junit.SuiteCase(name=o.spec.name,
                                 classname=red.url(o.spec.url) or suite.path,
                                 time_s=o.duration_s, failing=o.failing, allowed=o.allowed,
                                 notes=o.notes) for o in run.outcomes]
        _write(junit_out, junit.render_suite(suite.name, cases, red, time_s=run.duration_s,
                                             timestamp=run.started_at), "--junit")
    if html_out:
        from sse_doctor.report import html

        _write(html_out, html.render(run.report(), red, fail_on=fail), "--html")
    if json_out and not to_stdout:
        _write(json_out, suite_report.dumps(run, red) + "\n", "--json")

    if github.in_github_actions():
        # Workflow commands are read from stdout; with --json - stdout is the report's alone.
        stream = sys.stderr if to_stdout else sys.stdout
        for line in github.annotations(run, red):
            stream.write(line + "\n")
        problem = github.write_summary(github.summary(run, red))
        if problem:
            sys.stderr.write(f"sse-doctor: warning: {problem}\n")

    if to_stdout:
        sys.stdout.write(suite_report.dumps(run, red) + "\n")
    else:
        console = Console(highlight=False)
        if quiet:
            console.print(suite_terminal.verdict_line(run))
        else:
            suite_terminal.render(run, console, red, verbose=verbose)
    if run.interrupted:
        _err("interrupted: every connection was closed; the report above is partial")
        return EXIT_INTERRUPTED
    return EXIT_OK if run.passed else EXIT_FINDINGS


@app.command()
def init(
    url: Annotated[str, typer.Argument(metavar="URL", help="The stream the suite checks.")],
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="PATH", help="Where to write the suite.")
    ] = "sse-doctor.toml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> int:
    """Write a commented starter suite for URL (run it with `sse-doctor run`)."""
    from sse_doctor.suite.starter import starter_suite

    target = build_target(url)  # the same URL rules as every command
    if os.path.exists(output) and not force:
        raise UsageError(f"{output} already exists; use --force to overwrite it")
    _check_writable(output, "--output")
    _write(output, starter_suite(url, target.protocol, sorted(PLANNERS), output), "--output")
    Console(highlight=False).print(
        f"Wrote {output}: one check for {target.display_url()}.\n"
        f"Edit it, then run: sse-doctor run {output}")
    return EXIT_OK
