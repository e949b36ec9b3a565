"""The plan layer: option values in, a validated Plan out (no Typer here).

URL + options -> Plan (Target, the command's options) -> engine -> observation -> checks ->
conclusion (Results) -> Report. The CLI commands, suite checks, the demo and the Python API
all build their plans through `plan_command`, so an option means the same everywhere and
is validated once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.plan import experiments, probe
from sse_doctor.plan.base import Plan, target_of

# command name -> planner(option values of that command) -> Plan
PLANNERS: dict[str, Callable[[dict[str, Any]], Plan]] = {
    "probe": probe.plan,
    "disconnect": experiments.plan_disconnect,
    "duplicates": experiments.plan_duplicates,
    "storm": experiments.plan_storm,
    "resume": experiments.plan_resume,
    "checkup": experiments.plan_checkup,
    "load": lambda values: _load_plan(values),
    "har": lambda values: _har_plan(values),
    "proxy": lambda values: _proxy_plan(values),
}


def _load_plan(values: dict[str, Any]) -> Plan:
    from sse_doctor.plan.load_run import plan  # the load engine, only when load runs

    return plan(values)


def _har_plan(values: dict[str, Any]) -> Plan:
    from sse_doctor.plan.har import plan

    return plan(values)


def _proxy_plan(values: dict[str, Any]) -> Plan:
    from sse_doctor.plan.proxy import plan  # the proxy engine, only when the proxy runs

    return plan(values)


def plan_command(command: str, values: dict[str, Any]) -> Plan:
    """Validate a command's option values into a Plan (UsageError on bad values)."""
    if command not in PLANNERS:
        raise UsageError(f"unknown command {command!r} (have: {', '.join(sorted(PLANNERS))})")
    return PLANNERS[command](values)


__all__ = ["PLANNERS", "Plan", "plan_command", "target_of"]
