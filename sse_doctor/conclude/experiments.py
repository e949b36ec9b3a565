"""How each experiment concludes: its observation, judged by its checks
(checks.experiment_checks), becomes its result. The plans call these when an experiment's
engine is done, and on the partial observation of one that was interrupted."""

from __future__ import annotations

from typing import Any

from sse_doctor.checks.experiment_checks import (
    Checked,
    disconnect_checks,
    duplicates_checks,
    resume_checks,
    storm_checks,
)
from sse_doctor.experiments.observation import ExperimentObservation
from sse_doctor.model import Result
from sse_doctor.target import Target


def _result(target: Target, opts: Any, obs: ExperimentObservation, name: str,
            checked: Checked) -> Result:
    findings, run = checked
    return Result(name=name, protocol=target.protocol, url=target.url,
                  findings=findings, checks_run=run, observation=obs, options=opts)


def disconnect_result(target: Target, opts: Any, d: Any, obs: ExperimentObservation,
                      name: str) -> Result:
    # closing an MCP call's stream cancels the call (2026-07-28): work that goes on is a leak
    leak = "mcp-call-not-cancelled" if getattr(d, "profile", None) == "mcp" else "cleanup-leak"
    return _result(target, opts, obs, name, disconnect_checks(obs, d.mode, opts.grace, leak))


def duplicates_result(target: Target, opts: Any, d: Any, obs: ExperimentObservation,
                      name: str) -> Result:
    return _result(target, opts, obs, name,
                   duplicates_checks(obs, d.policy, opts.duration, opts.grace))


def storm_result(target: Target, opts: Any, s: Any, obs: ExperimentObservation,
                 name: str) -> Result:
    return _result(target, opts, obs, name, storm_checks(obs, s.cycles, opts.grace))


def resume_result(target: Target, opts: Any, r: Any, obs: ExperimentObservation,
                  name: str) -> Result:
    return _result(target, opts, obs, name, resume_checks(obs))
