"""`disconnect`: drop the stream abruptly, as a crashed tab or a dead network does, then see
whether the server lets the same client back in and whether its state returns to baseline.

The incident this exists for: a generator marks the session busy, the client drops, the
generator is cancelled, its cleanup (in an `except` block) never runs, and every later request
of that user is refused until a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sse_doctor.experiments.legs import open_leg
from sse_doctor.experiments.observation import ExperimentObservation, Leg
from sse_doctor.experiments.runner import (
    Clock,
    ExperimentOptions,
    reconnect,
    wait_for_baseline,
    watching,
)
from sse_doctor.target import Target


@dataclass
class DisconnectSettings:
    after_events: int | None = 2  # drop after this many events (or messages) ...
    after: float | None = None  # ... or after this many seconds
    mode: str = "rst"  # rst | fin
    repeat: int = 1
    profile: str | None = None  # "mcp": the stream dropped is a tools/call's (cancellation)

    def describe(self) -> str:
        when = f"after {self.after:g} s" if self.after is not None else \
            f"after {self.after_events} events"
        return f"{self.repeat} abrupt disconnect{'s' if self.repeat > 1 else ''} " \
               f"({self.mode.upper()}, {when})"


async def run_disconnect(target: Target, opts: ExperimentOptions, d: DisconnectSettings,
                         obs: ExperimentObservation) -> None:
    """Fill `obs` (also when cancelled half-way: the caller reports what was done)."""
    clock = Clock()
    async with watching(obs, opts, clock, target.timeout) as watchers:
        first: Leg | None = None
        for i in range(1, d.repeat + 1):
            window = d.after if d.after is not None else opts.duration
            leg = await open_leg(target, f"drop #{i}", clock.t0, window_s=window,
                                 max_items=None if d.after is not None else d.after_events,
                                 abort=d.mode, keep=opts.keep, ws=opts.ws)
            obs.add_leg(leg)
            if not leg.accepted:
                if i == 1:
                    obs.step(clock.ms(), f"the first connection was refused: {leg.refusal()}",
                             False)
                    obs.stats["started"] = False
                    obs.end_ms = clock.ms()
                    return
                obs.step(clock.ms(), f"connection #{i} refused after {i - 1} drop(s): "
                         f"{leg.refusal()}", False)
                obs.stats["refused_at"] = i
                obs.reconnect, obs.reconnect_attempts = leg, 1
                break
            first = first or leg
            if leg.abort:
                obs.stats["drops"] = obs.stats.get("drops", 0) + 1
            note = ""
            if d.after is None and d.after_events and leg.items < d.after_events:
                note = f" (only {leg.items} of {d.after_events} arrived in {window:g} s)"
            if leg.abort:
                obs.step(clock.ms(), f"connection #{i}: {leg.items} items{note}, then "
                         f"dropped ({d.mode.upper()}, no close)")
            else:
                obs.step(clock.ms(), f"connection #{i}: the server ended it first "
                         f"({leg.close.reason if leg.close else '?'})")
        grace_deadline = time.perf_counter() + opts.grace
        await wait_for_baseline(watchers, obs, clock, opts.grace)
        if "refused_at" not in obs.stats:
            await reconnect(target, obs, clock, opts, first, grace_deadline)
    obs.end_ms = clock.ms()
