"""`sse-doctor run SUITE.toml` and `sse-doctor init URL`, registered on the main app."""

from __future__ import annotations

import os
import sys
from typing import Any

from sse_doctor.cli.experiments import run_with_progress
from sse_doctor.cli.output import StdoutConsole, check_outputs, check_writable, write
from sse_doctor.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from sse_doctor.plan import PLANNERS
from sse_doctor.report import junit
from sse_doctor.target import build_target


def run_command(values: dict[str, Any]) -> int:
    from sse_doctor.options import validate
    from sse_doctor.suite import github
    from sse_doctor.suite import report as suite_report
    from sse_doctor.suite import terminal as suite_terminal
    from sse_doctor.suite.loader import SuiteInvalid, load_suite
    from sse_doctor.suite.runner import suite_plan

    suite_path, jobs, json_out = values["suite_path"], values["jobs"], values["json_out"]
    junit_out, html_out, quiet = values["junit_out"], values["html_out"], values["quiet"]
    validate("run", values)
    check_outputs(values)
    try:
        suite = load_suite(suite_path)
    except SuiteInvalid as exc:
        for line in exc.problems:
            sys.stderr.write(line + "\n")
        n = len(exc.problems)
        sys.stderr.write(f"sse-doctor: error: {suite_path}: {n} problem{'s' if n != 1 else ''}"
                         "; nothing was run\n")
        return EXIT_USAGE

    cli_ignore = frozenset(values.get("ignore") or ())
    if cli_ignore:  # `run --ignore CODE` mutes it in every check, as a suite's `ignore` does
        for spec in suite.checks:
            spec.ignore = spec.ignore | cli_ignore
    fail = values["fail_on"]
    to_stdout = json_out == "-"
    # `run` is a Plan like every command: progress on a terminal, Ctrl-C cancels the checks
    # under way and the report still has every check (the unfinished ones incomplete)
    plan, checks = suite_plan(suite, jobs=jobs, fail_on=fail)
    outcome = run_with_progress(plan, "run", quiet or to_stdout)
    run = checks.suite_run(outcome.report, outcome.stop)
    red = suite.redactor()

    if junit_out:
        cases = [junit.SuiteCase(name=o.spec.name,
                                 classname=red.url(o.spec.url) or suite.path,
                                 time_s=o.duration_s, failing=o.failing, allowed=o.allowed,
                                 notes=o.notes) for o in run.outcomes]
        write(junit_out, junit.render_suite(suite.name, cases, red, time_s=run.duration_s,
                                             timestamp=run.started_at), "--junit")
    if html_out:
        from sse_doctor.report import html

        write(html_out, html.render(run.report(), red, fail_on=fail), "--html")
    if json_out and not to_stdout:
        write(json_out, suite_report.dumps(run, red) + "\n", "--json")

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
        console = StdoutConsole(highlight=False)
        if quiet:
            console.print(suite_terminal.verdict_line(run))
        else:
            suite_terminal.render(run, console, red, verbose=values["verbose"])
    if outcome.stop.interrupted:
        from sse_doctor import interrupt

        interrupt.say_interrupted(outcome.stop)
        return outcome.stop.exit_code
    return EXIT_OK if run.passed else EXIT_FINDINGS


def init(values: dict[str, Any]) -> int:
    from sse_doctor.suite.starter import starter_suite

    url, output = values["url"], values["output"]
    target = build_target(url)  # the same URL rules as every command
    if os.path.exists(output) and not values["force"]:
        raise UsageError(f"{output} already exists; use --force to overwrite it")
    check_writable(output, "--output")
    write(output, starter_suite(url, target.protocol, sorted(PLANNERS), output), "--output")
    StdoutConsole(highlight=False).print(
        f"Wrote {output}: one check for {target.display_url()}.\n"
        f"Edit it, then run: sse-doctor run {output}")
    return EXIT_OK
