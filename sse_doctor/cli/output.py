"""Where reports go: files, stdout, the terminal; and the exit code a report means."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from rich.console import Console

from sse_doctor.errors import EXIT_FINDINGS, EXIT_OK, EXIT_UNREACHABLE, UsageError
from sse_doctor.model import Report, mark_ignored
from sse_doctor.options import known_codes
from sse_doctor.redact import Redactor
from sse_doctor.report import json_report, junit, terminal


def check_writable(path: str | None, what: str) -> None:
    if path in (None, "-"):
        return
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {what} file {path!r}: no such writable directory")


def check_outputs(values: dict[str, Any]) -> None:
    """Every report file asked for can be written, and every --ignore names a finding code,
    before anything runs."""
    for key, what in (("json_out", "--json"), ("junit_out", "--junit"), ("html_out", "--html")):
        check_writable(values.get(key), what)
    problem = known_codes("--ignore", values.get("ignore"))
    if problem:
        raise UsageError(problem)


def write(path: str, text: str, what: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {what} file {path!r}: {exc.strerror}") from None


class StdoutConsole(Console):
    """rich's Console, except when stdout's reader has gone (`| head`): rich then exits 1
    without a word; this raises BrokenPipeError for the command line to end quietly."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def err(message: str) -> None:
    sys.stderr.write(f"sse-doctor: error: {message}\n")


def exit_code_for(report: Report, fail_on: str) -> int:
    # A single target that never answered is exit 3; in the demo and in suites an unreachable
    # target is one failing scenario among others.
    if report.command not in ("demo", "run") and any(
            f.code == "target-unreachable" and not f.ignored for f in report.findings):
        return EXIT_UNREACHABLE
    if any(junit.fails(f.severity, fail_on) for f in report.findings if not f.ignored):
        return EXIT_FINDINGS
    return EXIT_OK


def emit(
    report: Report,
    red: Redactor,
    *,
    json_out: str | None,
    junit_out: str | None,
    fail_on: str,
    quiet: bool,
    verbose: bool,
    html_out: str | None = None,
    json_lines: bool = False,
) -> None:
    if html_out:
        from sse_doctor.report import html

        write(html_out, html.render(report, red, fail_on), "--html")
    if junit_out:
        write(junit_out, junit.render(report, fail_on, red), "--junit")
    if json_out and json_out != "-":
        write(json_out, json_report.dumps(report, red) + "\n", "--json")
    if json_out == "-":
        # After `probe --follow`'s JSON Lines, the report is one more line.
        sys.stdout.write(json_report.dumps(report, red, compact=json_lines) + "\n")
        sys.stdout.flush()
        return
    console = StdoutConsole(highlight=False)
    if quiet:
        for r in report.results:
            console.print(terminal.verdict_line(r))
        return
    terminal.render(report, console, red, verbose=verbose)


def emit_values(report: Report, red: Redactor, values: dict[str, Any]) -> None:
    """`emit` with a command's output option values (--ignore marks findings first)."""
    mark_ignored(report.results, frozenset(values.get("ignore") or ()))
    emit(report, red, json_out=values.get("json_out"), junit_out=values.get("junit_out"),
         fail_on=values.get("fail_on", "never"), quiet=values.get("quiet", False),
         verbose=values.get("verbose", False), html_out=values.get("html_out"),
         json_lines=values.get("follow", False))


def emit_and_exit(report: Report, red: Redactor, values: dict[str, Any], stop: Any) -> int:
    """Write every report asked for, then the exit code: the signal's after an interrupt
    (`stop`, an interrupt.Stop), else what the findings mean. A terminal closed under the
    run (SIGHUP) leaves the files written and nothing to print on."""
    from sse_doctor import interrupt
    from sse_doctor.cli.live_view import discard_terminal

    try:
        emit_values(report, red, values)
    except OSError:
        if stop.signum != signal.SIGHUP:
            raise
        discard_terminal()
    if stop.interrupted:
        interrupt.say_interrupted(stop)
        return stop.exit_code
    return exit_code_for(report, values["fail_on"])
