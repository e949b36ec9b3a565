"""`duplicates`: open several streams with one identity, as a tab that opens a new
EventSource without closing the old one does, and see which the server keeps."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sse_doctor.experiments.legs import open_leg
from sse_doctor.experiments.observation import ExperimentObservation, Leg
from sse_doctor.experiments.runner import (
    Clock,
    ExperimentOptions,
    wait_for_baseline,
    watching,
)
from sse_doctor.target import Target

# Connections open one after another, this far apart, so "older" and "newer" are well defined.
STAGGER_S = 0.2


@dataclass
class DuplicateSettings:
    connections: int = 3
    policy: str = "allow"  # allow | single


async def run_duplicates(target: Target, opts: ExperimentOptions, d: DuplicateSettings,
                         obs: ExperimentObservation) -> None:
    clock = Clock()
    hold = opts.duration
    async with watching(obs, opts, clock, target.timeout) as watchers:
        end = time.perf_counter() + STAGGER_S * (d.connections - 1) + hold

        async def one(i: int) -> Leg:
            await asyncio.sleep(STAGGER_S * i)
            return await open_leg(target, f"stream #{i + 1}", clock.t0,
                                  window_s=max(0.1, end - time.perf_counter()), keep=opts.keep,
                                  ws=opts.ws)

        obs.step(clock.ms(), f"opening {d.connections} streams with one identity, "
                 f"{STAGGER_S * 1000:.0f} ms apart, each held until {hold:g} s after the last")
        legs = await asyncio.gather(*(one(i) for i in range(d.connections)))
        for leg in legs:
            obs.add_leg(leg)
        accepted = [leg for leg in legs if leg.accepted]
        if not accepted:
            obs.stats["started"] = False
            obs.step(clock.ms(), f"every stream was refused: {legs[0].refusal()}", False)
            obs.end_ms = clock.ms()
            return
        alive = [leg for leg in accepted if leg.close and leg.close.by in ("deadline", "client")]
        ended = [leg for leg in accepted if leg not in alive]
        refused = [leg for leg in legs if not leg.accepted]
        obs.stats.update(opened=len(legs), accepted=len(accepted), kept_open=len(alive),
                         closed_by_server=len(ended), refused=len(refused))
        for leg in ended:
            obs.step(leg.end_ms, f"{leg.role}: the server ended it at {leg.end_ms:.0f} ms "
                     f"({leg.close.reason if leg.close else '?'})")
        for leg in refused:
            obs.step(leg.start_ms, f"{leg.role}: refused ({leg.refusal()})")
        obs.step(clock.ms(), f"{len(alive)} of {len(legs)} streams were still open at the end",
                 len(alive) <= 1 if d.policy == "single" else None)
        for s in obs.series:
            peak, base = s.peak(), s.baseline
            if peak is not None and base is not None and accepted:
                obs.stats.setdefault("cost_per_stream", {})[s.name] = round(
                    (peak - base) / len(accepted), 3)
        await wait_for_baseline(watchers, obs, clock, opts.grace)
    obs.end_ms = clock.ms()
