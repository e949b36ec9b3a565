"""`resume`: read a few events, drop the connection, reconnect with Last-Event-ID as a
browser's EventSource does, and compare where the server continued."""

from __future__ import annotations

from dataclasses import dataclass

from sse_doctor.experiments.legs import open_leg
from sse_doctor.experiments.observation import ExperimentObservation
from sse_doctor.experiments.runner import Clock, ExperimentOptions, reconnect_window
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
