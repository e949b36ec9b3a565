"""`sse-doctor demo`: start the lab in-process, probe every scenario at once with short
windows, and compare what was found with what each scenario models."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import datetime, timezone

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabScenario, LabServer
from sse_doctor.model import Report, ScenarioResult

# How many scenarios run at once: all of them, with room to grow (a few events a second each).
CONCURRENCY = 64


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


UNREACHABLE = LabScenario(
    name="unreachable", path="", protocol="sse",
    models="nothing listens on the port (server down)",
    expect=frozenset({"target-unreachable"}), probe_args=("--timeout", "2"))


async def _probe_one(s: LabScenario, url: str) -> ScenarioResult:
    from sse_doctor.cli import plan_probe, probe_params, run_probe

    params = probe_params([url, *DEMO_ARGS, *s.probe_args])
    target, opts, ws_opts = plan_probe(params)
    result = await run_probe(target, opts, ws_opts, name=s.name)
    result.expected = sorted(s.expect)
    return result


async def _probe_all(plan: list[tuple[LabScenario, str]], progress: Progress | None) \
        -> list[ScenarioResult]:
    sem = asyncio.Semaphore(CONCURRENCY)
    task_id = progress.add_task("diagnosing lab scenarios", total=len(plan)) \
        if progress else None

    async def one(s: LabScenario, url: str) -> ScenarioResult:
        async with sem:
            r = await _probe_one(s, url)
        if progress is not None and task_id is not None:
            progress.advance(task_id)
        return r

    return list(await asyncio.gather(*(one(s, u) for s, u in plan)))


def run_demo(show_progress: bool = True) -> tuple[Report, bool]:
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    with LabServer() as server:
        plan = []
        for s in SCENARIOS:
            if not s.in_demo:
                continue
            base = server.base_url
            if s.protocol == "ws":
                base = base.replace("http://", "ws://", 1)
            plan.append((s, base + s.path))
        plan.append((UNREACHABLE, f"http://127.0.0.1:{_closed_port()}/sse/healthy"))
        err = Console(stderr=True)
        if show_progress and err.is_terminal:
            with Progress(TextColumn("{task.description}"), BarColumn(),
                          MofNCompleteColumn(), console=err, transient=True) as progress:
                results = asyncio.run(_probe_all(plan, progress))
        else:
            results = asyncio.run(_probe_all(plan, None))
        base_url = server.base_url
    report = Report(command="demo", url=base_url, protocol="sse", started_at=started,
                    duration_s=time.perf_counter() - t0, results=results, multi=True)
    return report, all(r.matches_expected for r in results)
