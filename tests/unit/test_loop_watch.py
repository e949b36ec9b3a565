"""The loop watch: a client that could not read is told apart from a server that held back."""

from __future__ import annotations

import asyncio
import time

from sse_doctor import loop_watch


def test_a_blocked_loop_is_recorded_as_a_stall_covering_the_block() -> None:
    async def main() -> tuple[list[tuple[float, float]], bool]:
        watch = loop_watch.for_this_loop()
        watch.watch()
        t0 = time.perf_counter()
        await asyncio.sleep(loop_watch.TICK_S * 3)  # the watcher is ticking
        blocked_at = time.perf_counter()
        time.sleep(0.3)  # the stimulus: nothing on this loop can run meanwhile
        blocked_until = time.perf_counter()
        await asyncio.sleep(loop_watch.TICK_S * 3)  # it wakes up, late, and says so
        stalls = watch.stalls_ms(t0, time.perf_counter())
        watch.release()
        task = watch.task
        return ([s for s in stalls if s[0] <= (blocked_until - t0) * 1000
                 and s[1] >= (blocked_at - t0) * 1000], task is None)

    covering, stopped = asyncio.run(main())
    assert stopped  # the last watcher gone, its timer is cancelled
    assert covering and max(b - a for a, b in covering) >= 250  # most of the 300 ms block


def test_one_watcher_per_loop_shared_by_every_observation() -> None:
    async def main() -> bool:
        a, b = loop_watch.for_this_loop(), loop_watch.for_this_loop()
        a.watch()
        b.watch()
        task = a.task
        a.release()
        still = a.task is task and not task.done()
        b.release()
        return a is b and still

    assert asyncio.run(main())


def test_stalls_are_clipped_to_the_observations_window_in_ms() -> None:
    watch = loop_watch.LoopWatch()
    watch.stalls.extend([(9.0, 10.5), (11.0, 11.2), (13.0, 14.0)])
    assert watch.stalls_ms(10.0, 12.0) == [(0.0, 500.0), (1000.0, 1200.0)]
