"""`sse-doctor demo`: start the lab in-process, probe every scenario at once with short
windows, then run every lab experiment and every lab load row, and compare what was found with
what each scenario models."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from sse_doctor import interrupt
from sse_doctor.interrupt import Stop
from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabScenario, LabServer
from sse_doctor.lab.experiments import EXPERIMENTS, LabExperiment, experiment_argv
from sse_doctor.model import Report, Result, protocol_of

if TYPE_CHECKING:
    from sse_doctor.plan import Plan

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


def _plan_one(s: LabScenario, url: str) -> Plan:
    from sse_doctor.commandline import parse_args
    from sse_doctor.plan import plan_command

    return plan_command("probe", parse_args("probe", [url, *DEMO_ARGS, *s.probe_args]))


async def _probe_all(plan: list[tuple[LabScenario, str]], progress: Progress | None,
                     done: list[Result]) -> list[Result]:
    # Parse and validate every probe before the first one starts: the probes time their
    # connections, and CPU work on the shared event loop would show up as their delays.
    plans = [(s, _plan_one(s, url)) for s, url in plan]
    import sse_doctor.conclude.probe  # noqa: F401 - imported now, not inside a timed probe
    import sse_doctor.ws.client  # noqa: F401

    sem = asyncio.Semaphore(CONCURRENCY)
    task_id = progress.add_task("diagnosing lab scenarios", total=len(plan)) \
        if progress else None

    async def one(s: LabScenario, p: Plan) -> Result:
        async with sem:
            [r] = await p.run(s.name)
        r.expected = sorted(s.expect)
        done.append(r)
        if progress is not None and task_id is not None:
            progress.advance(task_id)
        return r

    return list(await asyncio.gather(*(one(s, p) for s, p in plans)))


async def _experiment_one(e: LabExperiment, base_url: str, user: str) -> Result:
    from sse_doctor.commandline import parse_args
    from sse_doctor.plan import plan_command

    plan = plan_command(e.command, parse_args(e.command, experiment_argv(e, base_url, user)))
    [result] = await plan.run(e.name)
    result.expected = sorted(e.expect)
    return result


async def _experiment_all(base_url: str, progress: Progress | None,
                          done: list[Result]) -> list[Result]:
    """The lab experiments, at once where they cannot meet (each has its own route and
    gauges), after the probes, whose timing checks they would disturb."""
    task_id = progress.add_task("running experiments", total=len(EXPERIMENTS)) \
        if progress else None
    user = f"demo-{secrets.token_hex(4)}"

    async def one(e: LabExperiment) -> Result:
        r = await _experiment_one(e, base_url, user)
        done.append(r)
        if progress is not None and task_id is not None:
            progress.advance(task_id)
        return r

    # A --watch-port row counts every socket on the lab's port, other rows' too: it runs
    # alone, after the rest.
    alone = [e for e in EXPERIMENTS if "--watch-port" in e.args]
    together = [e for e in EXPERIMENTS if e not in alone]
    results = dict(zip(together, await asyncio.gather(*(one(e) for e in together))))
    for e in alone:
        results[e] = await one(e)
    return [results[e] for e in EXPERIMENTS]


async def _load_all(base_url: str, progress: Progress | None,
                    done: list[Result]) -> list[Result]:
    """The lab's load rows, one after another (they share the machine's CPU, and one of them
    measures latency), each a `sse-doctor load` child process: its workers fork, and must not
    inherit this process's lab server threads."""
    from sse_doctor.demo_load import run_load_scenario
    from sse_doctor.lab.load_scenarios import LLM_LOAD_SCENARIOS, LOAD_SCENARIOS

    rows = (*LOAD_SCENARIOS, *LLM_LOAD_SCENARIOS)
    task_id = progress.add_task("loading the lab", total=len(rows)) if progress else None
    results = []
    for row in rows:
        outcome = await asyncio.to_thread(run_load_scenario, row, base_url)
        results.append(outcome.result(base_url))
        done.append(results[-1])
        if progress is not None and task_id is not None:
            progress.advance(task_id)
    return results


async def _everything(plan: list[tuple[LabScenario, str]], base_url: str,
                      progress: Progress | None,
                      done: list[Result]) -> list[Result]:
    """Every stage in turn; `done` gets each result as it finishes, so Ctrl-C still has
    them."""
    results = await _probe_all(plan, progress, done)
    results += await _experiment_all(base_url, progress, done)
    return results + await _load_all(base_url, progress, done)


def run_demo(show_progress: bool = True) -> tuple[Report, bool, Stop]:
    """The demo's report, whether every scenario got its diagnosis, and how it ended: Ctrl-C
    or SIGTERM stops it with the scenarios that finished (the report says interrupted)."""
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
        done: list[Result] = []
        if show_progress and err.is_terminal:
            with Progress(TextColumn("{task.description}"), BarColumn(),
                          MofNCompleteColumn(), console=err, transient=True) as progress:
                results, stop = interrupt.run(
                    lambda stop: _everything(plan, server.base_url, progress, done),
                    cancel=True)
        else:
            results, stop = interrupt.run(
                lambda stop: _everything(plan, server.base_url, None, done), cancel=True)
        base_url = server.base_url
    if results is None:  # interrupted: what finished
        results = list(done)
    report = Report(command="demo", url=base_url, protocol=protocol_of(results),
                    started_at=started, duration_s=time.perf_counter() - t0, results=results,
                    multi=True, interrupted=stop.interrupted)
    return report, all(r.matches_expected for r in results), stop
