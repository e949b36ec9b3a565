"""What every experiment shares: its options, its clock, the watchers around it, the
connection that shows the server still serves afterwards, and the findings for an experiment
that could not start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.experiments.legs import open_leg
from sse_doctor.experiments.observation import ExperimentObservation, Leg
from sse_doctor.target import Target

# How often a refused reconnect is retried while the server still has its grace to clean up.
RETRY_EVERY_S = 0.25

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ExperimentOptions:
    duration: float = 10.0  # longest a connection is held (waiting for its events)
    grace: float = 5.0  # how long the server has to return to its baseline
    watches: list[Any] = field(default_factory=list)  # watchers.WatchSpec
    keep: int = 200
    progress: Progress | None = None
    # WebSocket: what every connection does after the handshake (--send, --subprotocol,
    # --origin, --max-message-size), a ws.options.WsOptions; None for SSE
    ws: Any = None


class Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000


@asynccontextmanager
async def watching(obs: ExperimentObservation, opts: ExperimentOptions, clock: Clock,
                   timeout: float) -> AsyncIterator[Any]:
    """Watchers sampled from before the experiment until the caller's block ends."""
    if not opts.watches:
        yield None
        return
    from sse_doctor.watchers import WatchError, Watchers

    watchers = Watchers(list(opts.watches), clock.t0, timeout=min(timeout, 5.0))
    try:
        try:
            await watchers.baseline()
        except WatchError as exc:
            raise UsageError(str(exc)) from None
        obs.series = watchers.series
        base = ", ".join(f"{s.name} = {_num(s.baseline)}" for s in watchers.series)
        obs.step(clock.ms(), f"baseline: {base}")
        await watchers.start()
        yield watchers
    finally:
        await watchers.aclose()


async def wait_for_baseline(watchers: Any, obs: ExperimentObservation, clock: Clock,
                            grace: float) -> None:
    if watchers is None:
        return
    watchers.mark_end()
    await watchers.settle(grace)
    back = [s for s in watchers.series if s.returned()]
    stuck = [s for s in watchers.series if not s.returned()]
    if stuck:
        obs.step(clock.ms(), "not back to baseline after the grace: " + ", ".join(
            f"{s.name} {_num(s.baseline)} → {_num(s.final())}" for s in stuck), False)
    if back:
        obs.step(clock.ms(), "back to baseline: " + ", ".join(s.name for s in back), True)


def _num(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:g}"


def reconnect_window(first: Leg | None, opts: ExperimentOptions) -> float:
    """Long enough for a fresh connection to show the first item again, as the first did."""
    if first is None or first.first_item_ms is None:
        return min(opts.duration, 5.0)
    return min(opts.duration, max(2.0, 2 * first.first_item_ms / 1000 + 1.0))


async def reconnect(target: Target, obs: ExperimentObservation, clock: Clock,
                    opts: ExperimentOptions, first: Leg | None, deadline: float,
                    role: str = "reconnect", wants_items: bool | None = None) -> tuple[Leg, int]:
    """Connect again with the same identity until the server takes the stream (and, if the
    first connection got items, sends one) or the deadline (perf_counter) passes."""
    window = reconnect_window(first, opts)
    if wants_items is None:
        wants_items = first is not None and first.items > 0
    attempts = 0
    while True:
        attempts += 1
        leg = await open_leg(target, role, clock.t0, window_s=window, max_items=1,
                             keep=opts.keep, ws=opts.ws)
        ok = leg.accepted and (leg.items > 0 or not wants_items)
        if ok or time.perf_counter() >= deadline:
            break
        await asyncio.sleep(RETRY_EVERY_S)
    obs.add_leg(leg)
    obs.reconnect, obs.reconnect_attempts = leg, attempts
    obs.reconnect_wants_items = wants_items
    if ok:
        obs.step(clock.ms(), f"{role}: accepted ({leg.status})"
                 + (f", first item after {leg.first_item_ms:.0f} ms"
                    if leg.first_item_ms is not None else "")
                 + (f" after {attempts} attempts" if attempts > 1 else ""), True)
    else:
        obs.step(clock.ms(), f"{role}: {leg.refusal() if not leg.accepted else 'nothing arrived'}"
                 f" ({attempts} attempt{'s' if attempts > 1 else ''})", False)
    return leg, attempts
