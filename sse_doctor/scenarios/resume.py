"""`resume`: read a few events, drop the connection, reconnect with Last-Event-ID as a
browser's EventSource does, and compare where the server continued."""

from __future__ import annotations

from dataclasses import dataclass

from sse_doctor.checks.experiment_checks import check_reconnect, check_resume
from sse_doctor.model import ScenarioResult
from sse_doctor.scenarios.experiment import ExperimentObservation
from sse_doctor.scenarios.legs import open_leg
from sse_doctor.scenarios.runner import Clock, ExperimentOptions, reconnect_window, start_failure
from sse_doctor.target import Target


@dataclass
class ResumeSettings:
    after_events: int = 3


async def run_resume(target: Target, opts: ExperimentOptions, r: ResumeSettings,
                     obs: ExperimentObservation) -> None:
    clock = Clock()
    first = await open_leg(target, "first", clock.t0, window_s=opts.duration,
                           max_items=r.after_events, abort="rst", keep=opts.keep)
    obs.add_leg(first)
    if not first.accepted:
        obs.stats["started"] = False
        obs.step(clock.ms(), f"the first connection was refused: {first.refusal()}", False)
        obs.end_ms = clock.ms()
        return
    events = first.obs.events
    last = events[-1].id if events else ""
    obs.step(clock.ms(), f"first connection: {first.items} events, ids "
             f"{', '.join(repr(e.id) for e in events[:8]) or '(none)'}; dropped (RST)")
    if not last:
        obs.step(clock.ms(), "no event carried an id: nothing to resume from", False)
        obs.end_ms = clock.ms()
        return
    second = await open_leg(target, "resume", clock.t0, window_s=reconnect_window(first, opts),
                            max_items=r.after_events, last_event_id=last, keep=opts.keep)
    obs.add_leg(second)
    obs.reconnect, obs.reconnect_attempts = second, 1
    ids2 = [e.id for e in second.obs.events[:8]]
    obs.step(clock.ms(), f"reconnected with Last-Event-ID: {last}: "
             + (f"ids {', '.join(map(repr, ids2))}" if second.accepted and ids2
                else second.refusal() if not second.accepted else "no events"))
    obs.end_ms = clock.ms()


def resume_result(target: Target, opts: ExperimentOptions, r: ResumeSettings,
                  obs: ExperimentObservation, name: str) -> ScenarioResult:
    run = ["no-event-ids", "resume-replay", "resume-gap", "reconnect-rejected"]
    findings: list = []
    if obs.stats.get("started") is False:
        findings, run = start_failure(obs.legs[0], target)
    elif obs.legs and obs.reconnect is not None:
        first = obs.legs[0]
        findings = check_resume(first, obs.reconnect)
        findings += check_reconnect(obs.reconnect, 1, "a drop, reconnecting with Last-Event-ID")
        for f in findings:
            if f.code in ("resume-replay", "resume-gap"):
                f.evidence["resumed"] = obs.reconnect.summary()
    elif obs.legs and not any(e.id for e in obs.legs[0].obs.events) and obs.legs[0].items:
        findings = check_resume(obs.legs[0], obs.legs[0])  # no ids: nothing to resume from
    return ScenarioResult(name=name, protocol=target.protocol, url=target.url,
                          findings=findings, checks_run=run, observation=obs, options=opts)
