"""The suite's JSON report: the shared report@1 shape (command "run", one entry per check in
`scenarios`) plus what a suite decides: passed, allowed codes, failing codes, thresholds."""

from __future__ import annotations

import json
from typing import Any

from sse_doctor.redact import Redactor
from sse_doctor.report import json_report
from sse_doctor.suite.runner import CheckOutcome, SuiteRun


def check_json(o: CheckOutcome, redactor: Redactor) -> dict[str, Any]:
    """The suite's fields of one check (added to its `scenarios` entry)."""
    out: dict[str, Any] = {
        "check": o.spec.index,
        "command": o.spec.command,
        "passed": o.passed,
        "allowed": sorted(o.spec.allow),
        "allowed_found": sorted({f.code for f in o.allowed}),
        "failing": [f.code for f in o.failing],
        "thresholds": o.thresholds,
        "duration_s": round(o.duration_s, 3),
    }
    if o.sub_results:
        out["sub_scenarios"] = [json_report.scenario_json(r, redactor) for r in o.sub_results]
    return out


def suite_json(run: SuiteRun, redactor: Redactor) -> dict[str, Any]:
    out = json_report.report_json(run.report(), redactor)
    for entry, o in zip(out["scenarios"], run.outcomes):
        entry.update(check_json(o, redactor))
    out["suite"] = {
        "name": run.suite.name,
        "path": run.suite.path,
        "fail_on": run.fail_on,
        "checks": len(run.outcomes),
        "failed": len(run.failed),
        "passed": run.passed,
        "interrupted": run.interrupted,
    }
    return redactor.deep(out)


def dumps(run: SuiteRun, redactor: Redactor) -> str:
    return json.dumps(suite_json(run, redactor), indent=2, ensure_ascii=False)
