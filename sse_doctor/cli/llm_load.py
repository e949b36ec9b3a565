"""`sse-doctor load URL --profile llm`: completions under load, levels, the knee."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from sse_doctor.cli.output import check_outputs, emit_values, err, exit_code_for
from sse_doctor.errors import UsageError
from sse_doctor.interrupt import exit_code
from sse_doctor.model import Report, ScenarioResult, SseObservation, finding
from sse_doctor.plan.load import plan_llm_load

PARTIAL_STANDS = frozenset({"llm-load-errors"})
STOP_GRACE_S = 5.0  # after Ctrl-C: how long in-flight completions have to hand back


def _unreachable(host: str, port: int, timeout: float) -> str | None:
    from types import SimpleNamespace

    from sse_doctor.load.fleet import preflight

    return preflight(SimpleNamespace(host=host, port=port, timeout=timeout))  # type: ignore[arg-type]


def llm_load_command(values: dict[str, Any]) -> int:
    check_outputs(values)
    settings, target, remote = plan_llm_load(values)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    parts = urlsplit(target.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    reason = _unreachable(parts.hostname or "", port, target.timeout)
    if reason is not None:
        obs = SseObservation(url=target.url, method=target.method, started_at=started,
                             unreachable=reason)
        result = ScenarioResult(
            name="load", protocol="sse", url=target.url,
            findings=[finding("target-unreachable", f"{target.display_url()}: {reason}")],
            checks_run=["target-unreachable"], observation=obs)
        report = Report(command="load", url=target.url, protocol="sse", started_at=started,
                        duration_s=time.perf_counter() - t0, results=[result])
        emit_values(report, target.redactor, values)
        return exit_code_for(report, values["fail_on"])

    from sse_doctor import interrupt
    from sse_doctor.checks.llm_load_checks import LLM_LOAD_CHECKS, run_llm_load_checks
    from sse_doctor.load.llm.observation import LlmLoadObservation
    from sse_doctor.load.llm.runner import run_levels
    from sse_doctor.watchers import WatchError

    done: list[Any] = []
    watch: list[Any] = []
    console = Console(stderr=True)
    progress = None
    if not (values["quiet"] or values["json_out"] == "-") and console.is_terminal:
        from sse_doctor.load.llm.terminal import LevelProgress

        progress = LevelProgress(console, target.display_url(), settings.levels, settings.mode)

    def level_done(level: Any) -> None:
        done.append(level)
        if progress is not None:
            progress.level_done(level)

    async def main(stop: interrupt.Stop) -> None:
        assert stop.event is not None
        try:
            levels, watchers = await run_levels(
                target, settings, stop.event, on_level=level_done,
                on_record=progress.record if progress is not None else None)
        except WatchError as exc:
            raise UsageError(str(exc)) from None
        if watchers is not None:
            watch.extend(watchers.series)

    with progress if progress is not None else contextlib.nullcontext():
        _, stop = interrupt.run(main, grace_s=STOP_GRACE_S)
    obs = LlmLoadObservation(url=target.url, protocol="sse", settings=settings, levels=done,
                             elapsed_s=time.perf_counter() - t0, interrupted=stop.interrupted,
                             series=watch, remote=remote)
    findings = run_llm_load_checks(obs)
    incomplete: list[str] = []
    if obs.interrupted:
        # what failed stands; the trends across levels and the settle needed the whole run
        incomplete = [c for c in LLM_LOAD_CHECKS if c not in PARTIAL_STANDS]
        findings = [f for f in findings if f.code in PARTIAL_STANDS]
    result = ScenarioResult(name="load", protocol="sse", url=target.url, findings=findings,
                            checks_run=[c for c in LLM_LOAD_CHECKS if c not in incomplete],
                            checks_incomplete=incomplete, observation=obs)
    report = Report(command="load", url=target.url, protocol="sse", started_at=started,
                    duration_s=time.perf_counter() - t0, results=[result],
                    interrupted=obs.interrupted)
    emit_values(report, target.redactor, values)
    if obs.interrupted:
        err("interrupted: the report above is partial")
        return exit_code(stop.signum) if stop.signum else 130
    return exit_code_for(report, values["fail_on"])
