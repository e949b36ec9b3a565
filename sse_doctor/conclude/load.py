"""How a load run concludes: the fleet's counts (or the completions' levels, `--profile llm`)
judged by the load checks into the command's result, also when a signal cut the run short."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sse_doctor.model import Result
from sse_doctor.target import Target

# load --profile llm cut short: what failed stands; the trends across levels and the settle
# after the last level needed the whole run
PARTIAL_STANDS = frozenset({"llm-load-errors"})


def unreachable_result(target: Target, reason: str) -> Result:
    """No TCP connection at all: one target-unreachable finding rather than N refusals."""
    from sse_doctor.model import SseObservation, finding

    obs = SseObservation(url=target.url, method=target.method,
                         started_at=datetime.now(timezone.utc), unreachable=reason)
    return Result(
        name="load", protocol=target.protocol, url=target.url,
        findings=[finding("target-unreachable", f"{target.display_url()}: {reason}")],
        checks_run=["target-unreachable"], observation=obs)


def load_result(target: Target, obs: Any, name: str = "load") -> Result:
    """The fleet's counts judged: the load checks (an interrupted run is incomplete)."""
    from sse_doctor.checks.load_checks import LOAD_CHECKS, run_load_checks

    return Result(name=name, protocol=target.protocol, url=target.url,
                  findings=run_load_checks(obs),
                  checks_run=LOAD_CHECKS + ["check-incomplete"] * obs.interrupted,
                  observation=obs)


def llm_load_result(target: Target, obs: Any, name: str = "load") -> Result:
    """The levels judged: the LLM load checks (an interrupted run: only the failures stand)."""
    from sse_doctor.checks.llm_load_checks import LLM_LOAD_CHECKS, run_llm_load_checks

    findings = run_llm_load_checks(obs)
    incomplete: list[str] = []
    if obs.interrupted:
        incomplete = [c for c in LLM_LOAD_CHECKS if c not in PARTIAL_STANDS]
        findings = [f for f in findings if f.code in PARTIAL_STANDS]
    return Result(name=name, protocol="sse", url=target.url, findings=findings,
                  checks_run=[c for c in LLM_LOAD_CHECKS if c not in incomplete],
                  checks_incomplete=incomplete, observation=obs)
