"""The load engine in a thread of another program (load/threaded.py, what Locust's dense users
run): against the lab's load-limit route it opens the route's cap, counts the rest as refused,
reports them second by second through the link (what a host turns into per-stream events) and,
asked to stop, closes every connection and hands back the same counts."""

from __future__ import annotations

import asyncio
import threading
import time

import psutil

from sse_doctor.load.driver import WorkerConfig
from sse_doctor.load.recorder import LoadRecorder
from sse_doctor.load.streams import LagSpec, LoadTarget
from sse_doctor.load.threaded import ThreadLink, run_in_this_thread


def _to_lab(port: int) -> int:
    """This process's client connections to the lab (the lab runs in this process too)."""
    return sum(1 for c in psutil.Process().net_connections("tcp")
               if c.raddr and c.raddr.port == port)


def test_an_engine_thread_counts_streams_and_stops_when_asked(own_lab) -> None:
    share, cap = 30, 20
    url = own_lab.url(f"/sse/load-limit?max={cap}&interval=0.2")
    target = LoadTarget(url=url, protocol="sse", host="127.0.0.1", port=own_lab.port,
                        tls=False, timeout=10.0)
    t0 = time.perf_counter()
    cfg = WorkerConfig(index=0, workers=1, target=target, share=share, ramp=300.0, hold_s=60.0,
                       t0=t0, start_s=0.0, reconnect=False, lag=LagSpec("perf"),
                       max_inflight=64)
    link = ThreadLink(LoadRecorder(share, t0))
    result: dict = {}
    # The stock loop: in a thread that is not the main one it refuses signal handlers itself.
    thread = threading.Thread(
        target=lambda: result.update(run_in_this_thread(cfg, link, asyncio.new_event_loop)),
        daemon=True)
    thread.start()
    updates = []
    deadline = time.monotonic() + 30
    while not updates or updates[-1].rec["counts"]["opened"] + \
            updates[-1].rec["counts"]["failed"] < share:  # every stream settled
        assert thread.is_alive() and time.monotonic() < deadline
        updates += link.drain()
        time.sleep(0.05)
    while _to_lab(own_lab.port) < cap:  # every open stream is a connection of ours
        assert time.monotonic() < deadline
        time.sleep(0.05)
    link.stop()
    thread.join(15)
    assert not thread.is_alive()
    updates += link.drain()
    counts = result["rec"]["counts"]
    assert counts["opened"] == cap and counts["failed"] == share - cap
    assert counts["open"] == 0 and counts["dropped"] == 0  # closed by us, not lost
    assert result["rec"]["refusals"] == {"503": share - cap}
    assert result["interrupted"] is True
    # second by second, every stream once: what Locust's statistics are fed from
    assert sum(n for u in updates for _, n in u.news.connects) == cap
    assert sum(u.news.refusals.get("503", 0) for u in updates) == share - cap
    assert all(ms >= 0 for u in updates for ms, _ in u.news.connects)
    assert _to_lab(own_lab.port) == 0  # every connection closed before the engine returned
