"""The probe scenario: observe one stream passively, then run the checks."""

from __future__ import annotations

import httpx

from sse_doctor.checks.plan import run_sse_checks
from sse_doctor.model import ProbeOptions, ScenarioResult
from sse_doctor.scenarios.observe import observe_sse
from sse_doctor.target import Target


async def probe_sse(target: Target, opts: ProbeOptions, name: str = "probe",
                    client: httpx.AsyncClient | None = None) -> ScenarioResult:
    obs = await observe_sse(target, opts, client=client)
    findings, checks_run = run_sse_checks(obs, opts)
    return ScenarioResult(name=name, protocol="sse", url=target.url, findings=findings,
                          checks_run=checks_run, observation=obs, options=opts)
