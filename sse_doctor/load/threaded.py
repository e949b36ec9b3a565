"""The load engine (driver.Worker: asyncio.Protocol streams, LoadRecorder, histograms) on an event
loop in an OS thread of another program, for hosts whose own thread must stay free: Locust's
gevent hub (sse_doctor.locust's dense users hold thousands of streams this way).

The host talks to the engine only through a ThreadLink, which stands in for the pipe a worker
process has to its parent: the host asks it to stop (a flag the engine polls every tick) and
takes its per-second updates from a deque. Everything that reads the engine's objects runs on
the engine's thread, so the host never sees a half-updated count.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.load.driver import Worker, WorkerConfig
from sse_doctor.load.histogram import Histogram, bucket_bounds
from sse_doctor.load.recorder import LoadRecorder


@dataclass
class News:
    """What changed in one second, for a host that counts streams one by one (Locust's
    request statistics): times in ms with how many streams took them (at the histograms'
    precision, about 2 %), refusals and drops by kind."""

    connects: list[tuple[float, int]] = field(default_factory=list)
    first_events: list[tuple[float, int]] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)


@dataclass
class Update:
    sample: dict[str, Any]  # the second's sample, as a worker process sends its parent
    rec: dict[str, Any]  # the recorder's cumulative counts (LoadRecorder.to_wire)
    news: News
    ramp_done: bool


def _new_values(before: list[int], hist: Histogram) -> list[tuple[float, int]]:
    out = []
    for i, n in enumerate(hist.counts):
        d = n - before[i]
        if d:
            low, high = bucket_bounds(i)
            out.append((min(hist.max, (low + high) / 2), d))
            before[i] = n
    return out


def _new_counts(before: dict[str, int], now: dict[str, int]) -> dict[str, int]:
    out = {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}
    before.update(now)
    return out


class ThreadLink:
    """The engine's side (send, poll, recv: what driver.Worker calls on its parent pipe) and
    the host's side (stop, drain). Thread-safe through the GIL: one flag, one deque."""

    def __init__(self, rec: LoadRecorder) -> None:
        self.rec = rec
        self.updates: collections.deque[Update] = collections.deque()
        self._stop_asked = False
        self._stop_seen = False
        self._headers = [0] * len(rec.hist["headers_ms"].counts)
        self._first = [0] * len(rec.hist["first_event_ms"].counts)
        self._refusals: dict[str, int] = {}
        self._drops: dict[str, int] = {}

    # --- the engine's thread -------------------------------------------------------------------
    def send(self, msg: tuple[str, int, Any]) -> None:
        kind, _, payload = msg
        if kind != "sample":
            return
        rec = self.rec
        news = News(_new_values(self._headers, rec.hist["headers_ms"]),
                    _new_values(self._first, rec.hist["first_event_ms"]),
                    _new_counts(self._refusals, rec.refusals), _new_counts(self._drops, rec.drops))
        self.updates.append(Update(payload, rec.to_wire(), news, rec.phase_name == "hold"))

    def poll(self) -> bool:
        return self._stop_asked and not self._stop_seen

    def recv(self) -> str:
        self._stop_seen = True
        return "stop"

    # --- the host's thread ---------------------------------------------------------------------
    def stop(self) -> None:
        self._stop_asked = True

    def drain(self) -> list[Update]:
        out = []
        while self.updates:
            out.append(self.updates.popleft())
        return out


def run_in_this_thread(cfg: WorkerConfig, link: ThreadLink,
                       new_loop: Callable[[], asyncio.AbstractEventLoop]) -> dict[str, Any]:
    """Run one engine on a fresh loop from ``new_loop`` in the calling thread until its hold
    ends or ``link.stop()``; its final counts (a worker process's final). Every connection is
    closed (or aborted after driver.CLOSE_WAIT_S) before it returns. The counts go into
    ``link.rec``, so a host can run several engines one after another on one LoadRecorder. The loop
    must refuse signal handlers (NotImplementedError): only a main thread can take them, and
    the host stops the engine through the link."""
    async def main() -> dict[str, Any]:
        worker = Worker(cfg, link)  # inside the loop: its asyncio objects belong to it
        worker.rec = link.rec
        return await worker.run()

    loop = new_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
