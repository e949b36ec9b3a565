"""`storm`: many rapid connect/abort cycles, as a page whose reconnect timers stack up does,
then see whether the server's resources come back to baseline and whether it still serves."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
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
from sse_doctor.sse.transport import make_client
from sse_doctor.target import Target
from sse_doctor.units import percentile

# Each cycle holds its connection this long after sending the request, then resets it: the
# response headers usually arrive first, the first event usually not.
CYCLE_HOLD_S = 0.05
# Above this many connections at once, a host that is not this machine needs an explicit yes.
MAX_REMOTE_CONCURRENCY = 1000


@dataclass
class StormSettings:
    cycles: int = 50
    concurrency: int = 10


async def run_storm(target: Target, opts: ExperimentOptions, s: StormSettings,
                    obs: ExperimentObservation) -> None:
    clock = Clock()
    statuses: Counter[str] = Counter()
    head_ms: list[float] = []
    with_items = 0
    sem = asyncio.Semaphore(s.concurrency)
    done = 0
    # One pool for the SSE cycles, one TCP connection per request (no keep-alive): the same
    # identity every time, without building a client per cycle.
    client = make_client(target, max_connections=s.concurrency) \
        if target.protocol == "sse" else None
    try:
        async with watching(obs, opts, clock, target.timeout) as watchers:
            obs.step(clock.ms(), f"{s.cycles} connect/reset cycles, {s.concurrency} at a time")

            async def cycle(i: int) -> None:
                nonlocal done, with_items
                async with sem:
                    leg = await open_leg(target, f"cycle #{i + 1}", clock.t0,
                                         window_s=CYCLE_HOLD_S, abort="rst", client=client,
                                         keep=0, ws=opts.ws)
                statuses[_outcome(leg)] += 1
                with_items += leg.items > 0
                if leg.obs.headers_ms is not None:
                    head_ms.append(leg.obs.headers_ms)
                if not leg.accepted or len(obs.legs) < 5:
                    obs.add_leg(leg)
                done += 1
                if opts.progress is not None:
                    opts.progress(done, s.cycles)

            await asyncio.gather(*(cycle(i) for i in range(s.cycles)))
            obs.stats.update(cycles=s.cycles, concurrency=s.concurrency,
                             outcomes=dict(statuses),
                             headers_ms_p50=_r(percentile(head_ms, 0.5)),
                             headers_ms_p95=_r(percentile(head_ms, 0.95)))
            accepted = statuses.get("accepted", 0)
            obs.step(clock.ms(), f"storm over: {accepted} of {s.cycles} accepted"
                     + "".join(f", {n} {k}" for k, n in statuses.items() if k != "accepted"))
            if accepted == 0:
                obs.stats["started"] = False
                obs.end_ms = clock.ms()
                return
            grace_deadline = time.perf_counter() + opts.grace
            await wait_for_baseline(watchers, obs, clock, opts.grace)
            # It must stream if the storm's own short connections already got items.
            await reconnect(target, obs, clock, opts, None, grace_deadline,
                            role="after the storm", wants_items=with_items > 0)
    finally:
        if client is not None:
            await client.aclose()
    obs.end_ms = clock.ms()


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _outcome(leg: Leg) -> str:
    if leg.unreachable:
        return "unreachable"
    if leg.accepted:
        return "accepted"
    return f"refused {leg.status}" if leg.status else "refused"
