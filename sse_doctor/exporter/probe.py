"""One scrape's probe: a module's check for the scrape's target, run within its deadline, judged
as `sse-doctor run` judges a check (allow list, thresholds, fail_on).

The probe runs inside a feed.Feed, as `sse-doctor probe` does: at the deadline the session's
stop ends the connection and the probe returns what it saw (like Ctrl-C); a probe that does not
end within a short grace after that is cancelled and its partial observation salvaged. Either
way the scrape is answered, in time, with what was seen.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sse_doctor import feed
from sse_doctor.conclude.interrupted import interrupted_result
from sse_doctor.exporter.config import Module
from sse_doctor.exporter.deadline import observation_window
from sse_doctor.model import Finding, Report, Result, finding
from sse_doctor.plan import Plan
from sse_doctor.redact import Redactor
from sse_doctor.suite.loader import SuiteInvalid
from sse_doctor.suite.runner import outcome

STOP_GRACE_S = 0.3  # after the stop, what the probe gets to close before it is cancelled
DEADLINE_REASON = "scrape deadline"


class ProbeRefused(Exception):
    """The probe cannot run for this target (an HTTP status and one line for the answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ProbeRun:
    module: Module
    report: Report
    redactor: Redactor
    success: bool  # no finding at or above the module's fail_on that it does not allow
    cut_short: bool  # the deadline ended the probe before its window did
    deadline_s: float

    def report_json(self) -> dict[str, Any]:
        from sse_doctor.report.json_report import report_json

        return report_json(self.report, self.redactor)

    def text(self) -> str:
        """The human report, as `sse-doctor probe` prints it, in plain text."""
        from rich.console import Console

        from sse_doctor.report import terminal

        out = io.StringIO()
        console = Console(file=out, width=100, color_system=None, force_terminal=False,
                          highlight=False, emoji=False)
        terminal.render(self.report, console, self.redactor, verbose=False)
        return out.getvalue()


async def run_plan(plan: Plan, name: str, deadline_s: float) -> tuple[list[Result], bool]:
    """The one place the exporter runs a plan: (results, cut short by the deadline).

    At the deadline the plan's feed is stopped, as Ctrl-C stops `sse-doctor probe`; a plan
    that has not ended STOP_GRACE_S later is cancelled and its partial result salvaged."""
    session = plan.session if plan.session is not None else feed.Feed()
    session.stop = asyncio.Event()

    async def main() -> list[Result]:
        feed.start(session)  # this task's context only
        return await plan.run(name)

    task = asyncio.ensure_future(main())
    done, _ = await asyncio.wait({task}, timeout=deadline_s)
    if done:
        return task.result(), False
    session.set_stop(DEADLINE_REASON)
    done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_S)
    if done:
        results = task.result()
    else:
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_GRACE_S)
        results = plan.partial(DEADLINE_REASON) if plan.partial is not None else []
    return [interrupted_result(r) for r in results], True


def _answered(results: list[Result]) -> bool:
    """The target answered (or was found unreachable) before the probe ended."""
    for r in results:
        obs = r.observation
        if getattr(obs, "status", None) is not None or getattr(obs, "unreachable", None):
            return True
        if r.profile is not None:
            return True
    return False


async def probe_module(config_path: str, module: Module, target: str, deadline_s: float,
                       env: Mapping[str, str] | None = None) -> ProbeRun:
    """Probe `target` with `module` within `deadline_s` (ProbeRefused when it cannot run)."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    try:
        spec, red = module.check_spec(config_path, target,
                                      observe_s=observation_window(deadline_s),
                                      timeout_s=deadline_s,
                                      env=os.environ if env is None else env)
    except SuiteInvalid as exc:
        raise ProbeRefused(400, exc.problems[0]) from None
    except KeyError as exc:
        raise ProbeRefused(500, f"{module.where}: {exc.args[0]}") from None
    except OSError as exc:
        raise ProbeRefused(500, f"{module.where}: cannot read {exc.filename}: "
                                f"{exc.strerror}") from None
    red.add_url(target)
    extra: list[Finding] = []
    try:
        left = deadline_s - (time.perf_counter() - t0)
        results, cut = await run_plan(spec.plan, spec.name, max(0.0, left))
    except Exception as exc:  # noqa: BLE001 - the scrape still gets an answer
        results, cut = [], False
        extra.append(finding("check-incomplete", f"The probe stopped on an internal error: "
                                                 f"{type(exc).__name__}: {exc}",
                             error=type(exc).__name__))
    if cut and not _answered(results):
        extra.append(finding(
            "check-incomplete", f"No response within the probe's deadline ({deadline_s:g} s: "
                                "the scrape timeout minus the offset, or the module's window).",
            deadline_s=round(deadline_s, 3)))
    judged = outcome(spec, results, extra, module.fail_on, time.perf_counter() - t0)
    report = Report(command="probe", url=target, protocol=spec.plan.target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0,
                    results=[judged.result], interrupted=cut)
    return ProbeRun(module=module, report=report, redactor=red, success=judged.passed,
                    cut_short=cut, deadline_s=deadline_s)
