"""`sse-doctor load URL`: many streams at once, fleet-level findings."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Console

from sse_doctor.cli.output import check_outputs, emit_values, err, exit_code_for
from sse_doctor.errors import EXIT_INTERRUPTED
from sse_doctor.interrupt import exit_code
from sse_doctor.model import Report, ScenarioResult
from sse_doctor.plan.load import plan_load
from sse_doctor.target import Target


def load_command(values: dict[str, Any]) -> int:
    if values.get("profile") == "llm":
        from sse_doctor.cli.llm_load import llm_load_command

        return llm_load_command(values)
    check_outputs(values)
    lt, settings, target = plan_load(values)
    from sse_doctor.load.fleet import plan_workers, preflight, run_fleet

    settings.workers, _ = plan_workers(settings.streams, settings.workers)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    unreachable = preflight(lt)
    if unreachable is not None:
        return _unreachable(target, started, t0, unreachable, values)
    console = Console(stderr=True)
    live = not (values["quiet"] or values["json_out"] == "-") and console.is_terminal
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        # SIGTERM (a CI job's timeout, `kill`) and SIGHUP (the terminal closed) end the run
        # the way Ctrl-C does: the workers are told to stop and hand back their counts. The
        # default action killed the parent alone and left the workers holding their streams.
        received.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        view = None
        if live:
            from sse_doctor.load.terminal import LiveView

            view = LiveView(console, target.display_url())
        obs = run_fleet(lt, settings, view)
    except KeyboardInterrupt:  # between runs of the loop that gathers the workers' counts
        err("interrupted before the workers reported: no report")
        return exit_code(received[0]) if received else EXIT_INTERRUPTED
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    from sse_doctor.checks.load_checks import LOAD_CHECKS, run_load_checks

    result = ScenarioResult(name="load", protocol=target.protocol, url=target.url,
                            findings=run_load_checks(obs),
                            checks_run=LOAD_CHECKS + ["check-incomplete"] * obs.interrupted,
                            observation=obs)
    report = Report(command="load", url=target.url, protocol=target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0, results=[result])
    emit_values(report, target.redactor, values)
    if obs.interrupted:
        err("interrupted: every connection was closed; the report above is partial")
        return exit_code(received[0]) if received else EXIT_INTERRUPTED
    return exit_code_for(report, values["fail_on"])


def _unreachable(target: Target, started: datetime, t0: float, reason: str,
                 values: dict[str, Any]) -> int:
    from sse_doctor.model import SseObservation, finding

    obs = SseObservation(url=target.url, method=target.method, started_at=started,
                         unreachable=reason)
    result = ScenarioResult(
        name="load", protocol=target.protocol, url=target.url,
        findings=[finding("target-unreachable", f"{target.display_url()}: {reason}")],
        checks_run=["target-unreachable"], observation=obs)
    report = Report(command="load", url=target.url, protocol=target.protocol, started_at=started,
                    duration_s=time.perf_counter() - t0, results=[result])
    emit_values(report, target.redactor, values)
    return exit_code_for(report, values["fail_on"])
