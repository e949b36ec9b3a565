"""A validated command, ready to run: what the CLI, suites and the demo all build."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sse_doctor.model import ScenarioResult
from sse_doctor.target import Target, build_target


@dataclass
class Plan:
    """A validated command, ready to run: the suite runner and the commands share it."""

    command: str
    target: Target
    budget_s: float  # how long run() may take at most, all deadlines included
    run: Callable[[str], Awaitable[list[ScenarioResult]]]  # scenario name -> results
    # experiments: what was done so far, after an interruption
    partial: Callable[[], list[ScenarioResult]] | None = None
    # experiments: give them a callback(done, total) for progress bars
    on_progress: Callable[[Callable[[int, int], None]], None] | None = None
    # probe: the result of a run cancelled before its connection ended, from what the
    # live.Session it ran in saw (session, reason) -> results (the exporter's scrape deadline)
    salvage: Callable[[Any, str], list[ScenarioResult]] | None = None


def target_of(values: dict[str, Any]) -> Target:
    """The client's identity from the request options (the same for every command)."""
    return build_target(values["url"], method=values["method"], headers=values["header"],
                        data=values["data"], cookie=values["cookie"], bearer=values["bearer"],
                        timeout=values["timeout"], insecure=values["insecure"],
                        cacert=values["cacert"], http2=values["http2"])
