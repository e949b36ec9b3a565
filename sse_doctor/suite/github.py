"""GitHub Actions: annotations (workflow commands) and a Markdown job summary.

Workflow command escaping, per the Actions toolkit: in the message, '%' -> %25, CR -> %0D,
LF -> %0A; in property values (title, file) also ':' -> %3A and ',' -> %2C. A property or a
message that is not escaped can cut the command short or start a new one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sse_doctor.codes import get
from sse_doctor.model import Finding
from sse_doctor.redact import Redactor
from sse_doctor.suite.runner import CheckOutcome, SuiteRun

# GitHub shows at most 10 annotations of each kind per step; more are dropped silently.
MAX_ANNOTATIONS = 10


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: str | int | None) -> str:
    """One workflow command line, escaped: ::kind prop=v,...::message"""
    items = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items()
                     if v is not None)
    return f"::{kind}{' ' + items if items else ''}::{escape_data(message)}"


def _text(f: Finding) -> str:
    return f"[{f.severity}] {f.code}: {f.detail}\nWhat to do: {get(f.code).advice}"


def annotations(run: SuiteRun, redactor: Redactor) -> list[str]:
    """::error per failing check; ::warning per warning that did not fail a check (not
    allowed, below --fail-on). Each points at the check's [[check]] line in the suite file."""
    errors: list[str] = []
    warnings: list[str] = []
    for o in run.outcomes:
        where = {"file": run.suite.path, "line": o.spec.line}
        if o.failing:
            worst = o.failing[0]
            more = f" (+{len(o.failing) - 1} more)" if len(o.failing) > 1 else ""
            title = redactor.text(f"{o.spec.name}: {worst.title}{more}")
            body = redactor.text("\n\n".join(_text(f) for f in o.failing))
            errors.append(command("error", body, title=title, **where))
        for f in o.notes:
            if f.severity == "warning":
                warnings.append(command("warning", redactor.text(_text(f)),
                                        title=redactor.text(f"{o.spec.name}: {f.title}"),
                                        **where))
    return errors[:MAX_ANNOTATIONS] + warnings[:MAX_ANNOTATIONS]


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _verdict(o: CheckOutcome) -> str:
    return "✅ pass" if o.passed else "❌ fail"


def summary(run: SuiteRun, redactor: Redactor) -> str:
    """The job summary: the verdict, a table of checks, then what to fix for each failure."""
    n, bad = len(run.outcomes), len(run.failed)
    head = (f"## sse-doctor: {bad} of {n} checks failed" if bad
            else f"## sse-doctor: all {n} checks passed")
    lines = [head, "",
             f"Suite `{_cell(run.suite.name)}` (`{_cell(run.suite.path)}`), fail on "
             f"{run.fail_on}, {run.duration_s:.1f} s.", "",
             "| check | command | result | findings | allowed |", "|---|---|---|---|---|"]
    for o in run.outcomes:
        failing = ", ".join(f"`{f.code}`" for f in o.failing) or "-"
        allowed = ", ".join(sorted({f"`{f.code}`" for f in o.allowed})) or "-"
        lines.append(f"| {_cell(o.spec.name)} | {o.spec.command} | {_verdict(o)} | "
                     f"{failing} | {allowed} |")
    for o in run.failed:
        lines += ["", f"### ❌ {_cell(o.spec.name)}", "",
                  f"`{o.spec.command}` {redactor.url(o.spec.url)}", ""]
        for f in o.failing:
            lines.append(f"- **{f.title}** (`{f.code}`, {f.severity}): {f.detail}  ")
            lines.append(f"  What to do: {get(f.code).advice}")
    return redactor.text("\n".join(lines)) + "\n"


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def write_summary(text: str, env: Mapping[str, str] | None = None) -> str | None:
    """Append to $GITHUB_STEP_SUMMARY; returns a problem to report, or None."""
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        return f"cannot append the job summary to {path!r}: {exc.strerror}"
    return None
