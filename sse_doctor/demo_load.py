"""The demo's load rows (the lab's load table, sse_doctor.lab.load_scenarios) run and read back.

Rows run one after another (they share the machine's CPU, and the degraded row measures
latency), each in its own `python -m sse_doctor` process: the load command forks worker
processes, which must not inherit a lab server's threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from sse_doctor.checks.llm_load_checks import LLM_LOAD_CHECKS
from sse_doctor.checks.load_checks import LOAD_CHECKS
from sse_doctor.lab.load_scenarios import LabLoad, load_argv
from sse_doctor.model import Finding, Result, finding


@dataclass
class LoadOutcome:
    row: LabLoad
    exit_code: int
    report: dict[str, Any] | None  # the JSON report (None when the command printed none)
    stderr: str

    @property
    def found(self) -> frozenset[str]:
        return frozenset(f["code"] for f in (self.report or {}).get("findings", []))

    @property
    def matches(self) -> bool:
        return self.report is not None and self.found == self.row.expect

    def result(self, base_url: str) -> Result:
        """The row as one scenario of a demo report: its findings (from the child's JSON, or
        check-incomplete when it printed none) and the expected codes."""
        url = base_url.rstrip("/") + self.row.path
        if self.report is None:
            findings = [finding("check-incomplete",
                                f"sse-doctor load exited {self.exit_code} without a report: "
                                f"{self.stderr.strip()[-300:]}")]
        else:
            findings = [Finding(f["code"], f["severity"], f["title"], f["detail"],
                                f.get("evidence", {})) for f in self.report["findings"]]
        checks = LLM_LOAD_CHECKS if self.row.kind == "llm" else LOAD_CHECKS
        return Result(name=self.row.name, protocol="sse", url=url, findings=findings,
                      checks_run=[*checks], expected=sorted(self.row.expect))


def run_load_scenario(row: LabLoad, base_url: str, timeout: float = 120.0,
                      python: str = sys.executable) -> LoadOutcome:
    """Run one row with the CLI in a child process and read its JSON report."""
    argv = [python, "-m", "sse_doctor", *load_argv(row, base_url), "--json", "-",
            "--fail-on", "never"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    return LoadOutcome(row, proc.returncode, report, proc.stderr)
