"""The JSON report (schema sse-doctor/report@1), built from the one Report model."""

from __future__ import annotations

import json
from typing import Any

from sse_doctor.model import Report, Result
from sse_doctor.redact import Redactor
from sse_doctor.report import views
from sse_doctor.report.parts import empty_parts
from sse_doctor.units import percentile  # noqa: F401 - its home before units
from sse_doctor.version import __version__

SCHEMA = "sse-doctor/report@1"


def result_parts(r: Result, redactor: Redactor) -> dict[str, Any]:
    keep = getattr(r.options, "keep", 1000)
    out = views.json_parts(r.observation, keep, redactor)
    if r.profile is not None:  # a protocol profile read the stream
        out["profile"] = r.profile.to_json()
    return out


def scenario_json(r: Result, redactor: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name, "verdict": r.verdict,
                           "target": {"url": redactor.url(r.url), "protocol": r.protocol},
                           "findings": [f.to_json() for f in r.findings],
                           "checks_run": list(r.checks_run)}
    if r.checks_incomplete:
        out["checks_incomplete"] = list(r.checks_incomplete)
    if r.expected is not None:
        out["expected"] = sorted(r.expected)
    out.update(result_parts(r, redactor))
    return out


def report_json(report: Report, redactor: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "tool_version": __version__,
        "command": report.command,
        "target": {"url": redactor.url(report.url), "protocol": report.protocol},
        "started_at": report.started_at.isoformat(),
        "duration_s": round(report.duration_s, 3),
        "verdict": report.verdict,
        "findings": [f.to_json() for f in report.findings],
    }
    if report.interrupted:
        # Only on an interrupted report: the checks that needed the whole window.
        out["interrupted"] = True
        out["checks_incomplete"] = sorted({c for r in report.results
                                           for c in r.checks_incomplete})
    if report.multi or len(report.results) != 1:
        out.update(empty_parts())
        out["scenarios"] = [scenario_json(r, redactor) for r in report.results]
    else:
        out.update(result_parts(report.results[0], redactor))
        out["scenarios"] = []
    return redactor.deep(out)


def dumps(report: Report, redactor: Redactor, compact: bool = False) -> str:
    """The report as JSON text: indented, or on one line (`compact`, for JSON Lines)."""
    return json.dumps(report_json(report, redactor), indent=None if compact else 2,
                      ensure_ascii=False)
