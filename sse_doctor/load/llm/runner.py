"""The I/O of `load --profile llm`: completions sent over httpx (the probe's transport), each
read by the LLM profile's interpreter, in a closed loop (N in flight) or an open loop (arrivals
at a rate), one level after another.

Why httpx and not the load engine (load/driver.py): the engine holds tens of thousands of
long-lived GET streams per process with its own HTTP/1.1 core and worker processes; a
completion is a short POST whose every token is timed and whose body decides its outcome, at
concurrencies of tens to hundreds. One asyncio loop with httpx does that with the probe's
request building, TLS and error wording, and the number in flight is bounded by the loop
itself (closed) or a semaphore (open).

Every wait has a deadline: the response head --timeout, silence --idle-limit, the whole
answer --request-timeout, a level --duration; a stop (Ctrl-C, SIGTERM) ends them all.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx

from sse_doctor.interrupt import Stopped
from sse_doctor.load.llm.aggregate import Level
from sse_doctor.load.llm.observation import LlmLoadSettings
from sse_doctor.load.llm.record import Ending, RequestRecord, record_of
from sse_doctor.profiles.llm.protocol import LlmInterpreter, usage_requested
from sse_doctor.sse.parser import SSEParser
from sse_doctor.sse.transport import Head, Unreachable, make_client, stream
from sse_doctor.target import Target

WATCHDOG_TICK_S = 0.05  # how often a request checks its cancel time and its silence


def cancelled_by_plan(index: int, rate: float) -> bool:
    """An exact, evenly spread share `rate` of the requests: 0.25 -> every 4th."""
    return rate > 0 and math.floor((index + 1) * rate) > math.floor(index * rate)


def arrival_times(rate: float, arrival: str, rng: random.Random) -> Iterator[float]:
    """Send times in seconds from the level's start: evenly spaced (constant) or with
    exponential gaps (poisson, as vLLM's --request-rate)."""
    t = 0.0
    while True:
        yield t
        t += rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate


class Pacer:
    """At most `rps` request starts a second (None: no cap)."""

    def __init__(self, rps: float | None) -> None:
        self.gap = 1.0 / rps if rps else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if not self.gap:
            return
        now = time.perf_counter()
        at = max(now, self.next)
        self.next = at + self.gap
        if at > now:
            await asyncio.sleep(at - now)


class _Sink:
    """Feeds the body to the SSE parser and the interpreter; remembers when bytes last came."""

    def __init__(self, t0: float, interp: LlmInterpreter, ending: Ending) -> None:
        self.t0 = t0
        self.interp = interp
        self.parser = SSEParser()
        self.ending = ending
        self.head_t: float | None = None
        self.last = t0

    def head(self, head: Head) -> None:
        self.head_t = self.last = head.t
        e = self.ending
        e.status = head.status
        for k, v in head.headers:
            if k.lower() == "content-type":
                e.content_type = v
            elif k.lower() == "retry-after":
                e.retry_after = v
        self.interp.head(head.status, head.headers)

    def chunk(self, t: float, data: bytes) -> bool:
        self.last = t
        self.interp.feed(self.parser.feed(data, (t - self.t0) * 1000))
        return True


async def one_request(target: Target, client: httpx.AsyncClient, index: int, level_t0: float,
                      s: LlmLoadSettings, stop: asyncio.Event) -> RequestRecord | None:
    """Send one completion and read it to its end; None when the run was stopped under it."""
    interp = LlmInterpreter(None, usage_requested(target.body))
    ending = Ending()
    t0 = time.perf_counter()
    sink = _Sink(t0, interp, ending)
    mine = asyncio.Event()
    cancel_at = t0 + s.cancel_after if cancelled_by_plan(index, s.cancel_rate) else None

    async def watchdog() -> None:
        while True:
            now = time.perf_counter()
            if stop.is_set():
                break
            if cancel_at is not None and now >= cancel_at:
                ending.cancelled = True
                break
            if sink.head_t is not None and now - sink.last >= s.idle_limit:
                ending.stalled = True
                break
            wake = now + WATCHDOG_TICK_S
            if cancel_at is not None:
                wake = min(wake, cancel_at)
            await asyncio.sleep(max(0.001, wake - now))
        mine.set()

    dog = asyncio.ensure_future(watchdog())
    try:
        end = await stream(target, sink, t0, s.request_timeout, client, stop=mine)
        ending.close_by, ending.close_reason = end.by, end.reason
        ending.end_ms = (end.t - t0) * 1000
    except Unreachable as exc:
        ending.unreachable = str(exc)
    except Stopped:  # stopped before the response head
        ending.close_by, ending.end_ms = "client", (time.perf_counter() - t0) * 1000
    finally:
        dog.cancel()
    if stop.is_set() and not ending.cancelled and ending.close_by == "client":
        return None  # the run was interrupted under this request: neither outcome
    interp.feed(sink.parser.close((time.perf_counter() - t0) * 1000))
    interp.result(SimpleNamespace(close=SimpleNamespace(by=ending.close_by),
                                  end_ms=ending.end_ms, streamed=True))
    return record_of(index, t0 - level_t0, interp.s, ending)


async def closed_level(target: Target, client: httpx.AsyncClient, level: Level,
                       s: LlmLoadSettings, stop: asyncio.Event, pacer: Pacer,
                       on_record: Callable[[RequestRecord], None]) -> None:
    """`level.level` workers, each sending its next completion when the last one ends."""
    n = int(level.level)
    t0 = time.perf_counter()
    deadline = t0 + s.duration
    issued = 0

    def take() -> int | None:
        nonlocal issued
        if stop.is_set() or time.perf_counter() >= deadline:
            return None
        if s.requests is not None and issued >= s.requests:
            return None
        issued += 1
        return issued - 1

    async def worker(w: int) -> None:
        start = t0 + w / s.ramp
        if start > time.perf_counter():
            await asyncio.sleep(min(start, deadline) - time.perf_counter())
        while True:
            await pacer.wait()
            i = take()
            if i is None:
                return
            rec = await one_request(target, client, i, t0, s, stop)
            if rec is not None:
                level.add(rec)
                on_record(rec)

    await asyncio.gather(*(worker(w) for w in range(n)))
    level.elapsed_s = time.perf_counter() - t0


async def open_level(target: Target, client: httpx.AsyncClient, level: Level,
                     s: LlmLoadSettings, stop: asyncio.Event, pacer: Pacer,
                     on_record: Callable[[RequestRecord], None]) -> None:
    """Arrivals at `level.level` requests a second, whatever is still in flight (up to
    `max_inflight` of ours; an arrival past that waits and is counted as backlog)."""
    rng = random.Random(s.seed)
    slots = asyncio.Semaphore(s.max_inflight)
    t0 = time.perf_counter()
    tasks: list[asyncio.Task] = []

    async def run(i: int) -> None:
        async with slots:
            await pacer.wait()
            rec = await one_request(target, client, i, t0, s, stop)
        if rec is not None:
            level.add(rec)
            on_record(rec)

    for i, at in enumerate(arrival_times(level.level, s.arrival, rng)):
        if (s.requests is not None and i >= s.requests) or at >= s.duration or stop.is_set():
            break
        delay = t0 + at - time.perf_counter()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                break
            except asyncio.TimeoutError:
                pass
        if slots.locked():
            level.backlog += 1
        tasks.append(asyncio.ensure_future(run(i)))
    if tasks:
        await asyncio.gather(*tasks)
    level.elapsed_s = time.perf_counter() - t0


async def run_levels(target: Target, s: LlmLoadSettings, stop: asyncio.Event,
                     on_level: Callable[[Level], None] | None = None,
                     on_record: Callable[[RequestRecord], None] | None = None
                     ) -> tuple[list[Level], Any]:
    """Every level in turn (watchers sampled from before the first to the grace after the
    last); (levels, watchers or None)."""
    from sse_doctor.watchers import Watchers

    top = max(s.levels) if s.mode == "concurrency" else s.max_inflight
    client = make_client(target, max_connections=int(top))
    pacer = Pacer(s.remote_rps)
    watchers = Watchers(list(s.watches), time.perf_counter(), timeout=min(target.timeout, 5.0)) \
        if s.watches else None
    levels: list[Level] = []
    try:
        if watchers is not None:
            await watchers.baseline()
            await watchers.start()
        for value in s.levels:
            if stop.is_set():
                break
            level = Level(value, s.mode, dict(s.slo))
            run = closed_level if s.mode == "concurrency" else open_level
            await run(target, client, level, s, stop, pacer, on_record or (lambda r: None))
            levels.append(level)
            if on_level is not None:
                on_level(level)
        if watchers is not None and not stop.is_set():
            watchers.mark_end()
            await watchers.settle(s.grace)
    finally:
        if watchers is not None:
            await watchers.aclose()
        await client.aclose()
    return levels, watchers
