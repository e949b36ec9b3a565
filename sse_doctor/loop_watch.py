"""When the client itself could not read: stalls of this process's event loop, so that the
checks do not blame a server for what a busy client did.

A loaded machine (a suite running many checks, a CI runner under other jobs) can keep the
event loop from running for a while; meanwhile the server's events wait in the socket and
arrive in one read when the loop runs again, which looks exactly like a buffering proxy. One
watcher per running loop (shared by every observation in it, so a hundred concurrent streams
cost one timer) sleeps a short tick and records each wake-up later than STALL_MS as a stall:
the loop could not run from when it should have woken until it did.

No library measures this for us: asyncio's debug mode logs slow callbacks but not the time a
process was not scheduled, and both keep streams from being read.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque

TICK_S = 0.02
STALL_MS = 50.0  # a wake-up this late is a stall (a timer's own jitter stays far below)
KEEP = 4096  # stalls kept per loop: bounded memory on an endless run


class LoopWatch:
    """The stalls of one event loop while anyone watches (`watch()` ... `release()`)."""

    def __init__(self) -> None:
        self.stalls: deque[tuple[float, float]] = deque(maxlen=KEEP)  # perf_counter seconds
        self.watchers = 0
        self.task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            due = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            woke = time.perf_counter()
            if (woke - due) * 1000 > STALL_MS:
                self.stalls.append((due, woke))

    def watch(self) -> None:
        self.watchers += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._tick())

    def release(self) -> None:
        self.watchers -= 1
        if self.watchers <= 0 and self.task is not None:
            self.task.cancel()
            self.task = None

    def stalls_ms(self, t0: float, t_end: float) -> list[tuple[float, float]]:
        """The stalls between t0 and t_end (perf_counter seconds), in ms since t0."""
        return [(round(max(a, t0) * 1000 - t0 * 1000, 1), round(min(b, t_end) * 1000
                                                                 - t0 * 1000, 1))
                for a, b in self.stalls if b > t0 and a < t_end]


_WATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWatch] = \
    weakref.WeakKeyDictionary()


def for_this_loop() -> LoopWatch:
    loop = asyncio.get_running_loop()
    watch = _WATCHES.get(loop)
    if watch is None:
        watch = _WATCHES[loop] = LoopWatch()
    return watch
