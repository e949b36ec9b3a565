"""The watchers against a real state server on 127.0.0.1 and real sockets (tests/unit/
test_watchers.py has the specs, parsers and series)."""

from __future__ import annotations

import asyncio
import collections
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sse_doctor.checks.watch_checks import close_wait_findings, leak_findings
from sse_doctor.watchers import (
    Series,
    WatchError,
    Watchers,
    WatchSpec,
    parse_watch_json,
    parse_watch_metric,
    parse_watch_port,
    parse_watches,
)
from tests.support.real_servers import Served

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "watch"


T = TypeVar("T")


class StateServer(Served):
    """A tiny app whose /metrics gauge and /state JSON the test changes, under uvicorn."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pending = Gauge("lab_pending_sessions", "Sessions marked pending.", ["route"],
                             registry=self.registry)
        self.pending.labels("leaky-session").set(0)
        self.pending.labels("clean-session").set(0)
        self.state: dict[str, Any] = {"sessions": {"pending": []}, "open": 0, "name": "lab"}
        self.hits: collections.Counter[str] = collections.Counter()
        self.hang = threading.Event()
        self.fail = threading.Event()

        async def metrics(request: Request) -> Response:
            self.hits["/metrics"] += 1
            return PlainTextResponse(generate_latest(self.registry))

        async def state(request: Request) -> Response:
            self.hits["/state"] += 1
            while self.hang.is_set():  # a state endpoint that stops answering
                await asyncio.sleep(0.02)
            if self.fail.is_set():
                return PlainTextResponse("overloaded", status_code=503)
            return JSONResponse(self.state)

        super().__init__(Starlette(routes=[Route("/metrics", metrics),
                                           Route("/state", state)]))

    def start(self) -> StateServer:
        super().start()
        return self

    def stop(self) -> None:
        self.hang.clear()  # a hanging handler would hold uvicorn's shutdown
        super().stop()


@pytest.fixture(scope="module")
def server() -> Iterator[StateServer]:
    srv = StateServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(autouse=False)
def fresh(server: StateServer) -> StateServer:
    server.pending.labels("leaky-session").set(0)
    server.pending.labels("clean-session").set(0)
    server.state.update({"sessions": {"pending": []}, "open": 0, "name": "lab"})
    server.hits.clear()
    server.hang.clear()
    server.fail.clear()
    return server


def run(coro: Awaitable[T], limit: float = 15) -> T:
    """Run a coroutine; a hang fails the test instead of blocking the suite."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, limit)
    return asyncio.run(bounded())


async def wait_until(cond: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.perf_counter() + limit
    while not cond():
        assert time.perf_counter() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_baseline_reads_every_watch_and_fetches_each_url_once(fresh: StateServer) -> None:
    fresh.pending.labels("leaky-session").set(2)
    fresh.state["open"] = 4
    specs = parse_watches(
        [fresh.url('/metrics#lab_pending_sessions{route="leaky-session"}'),
         fresh.url("/metrics#lab_pending_sessions")],
        [fresh.url("/state#open"), fresh.url("/state#sessions.pending")], None)

    async def main() -> list[Series]:
        async with Watchers(specs, time.perf_counter()) as w:
            await w.baseline()
            return w.series

    series = run(main())
    assert [(s.name, s.kind, s.baseline) for s in series] == [
        ('lab_pending_sessions{route="leaky-session"}', "metric", 2),
        ("lab_pending_sessions (sum of 2 samples)", "metric", 2),
        ("open", "json", 4), ("sessions.pending", "json", 0)]
    assert series[0].source == fresh.url("/metrics") and len(series[0].samples) == 1
    assert fresh.hits == {"/metrics": 1, "/state": 1}


def test_a_value_that_rises_then_returns(fresh: StateServer) -> None:
    specs = parse_watches([fresh.url('/metrics#lab_pending_sessions{route="leaky-session"}')],
                          [fresh.url("/state#sessions.pending")], None)

    async def main() -> Watchers:
        w = Watchers(specs, time.perf_counter(), interval=0.05, timeout=2)
        try:
            await w.baseline()
            fresh.pending.labels("leaky-session").set(2)
            fresh.state["sessions"] = {"pending": ["s1", "s2"]}
            await w.start()
            await wait_until(lambda: all(s.final() == 2 for s in w.series))
            w.mark_end()
            fresh.pending.labels("leaky-session").set(0)  # the server cleans up a bit later
            fresh.state["sessions"] = {"pending": []}
            await w.settle(grace_s=10)
        finally:
            await w.aclose()
        return w

    w = run(main())
    for s in w.series:
        assert s.baseline == 0 and s.peak() == 2 and s.final() == 0
        assert s.returned() and s.end_ms is not None
        assert s.settled_ms is not None and s.settled_ms >= s.end_ms
        # settle() stopped because everything came back, not because the grace ran out.
        assert s.confirmed_back()
    assert leak_findings(w.series, "cleanup-leak", 10, "the disconnects") == []


def test_a_value_that_stays_up_until_the_grace_ends(fresh: StateServer) -> None:
    specs = parse_watches([fresh.url("/metrics#lab_pending_sessions")], None, None)
    grace = 0.6

    async def main() -> tuple[Watchers, float]:
        async with Watchers(specs, time.perf_counter(), interval=0.05) as w:
            await w.baseline()
            await w.start()
            fresh.pending.labels("leaky-session").set(3)
            await wait_until(lambda: w.series[0].final() == 3)
            w.mark_end()
            started = time.perf_counter()
            await w.settle(grace)
            return w, time.perf_counter() - started

    w, took = run(main())
    s = w.series[0]
    assert took >= grace * 0.9  # it waited for the grace (a lower bound only)
    assert not s.returned() and s.settled_ms is None and s.final() == 3
    assert len(s.good_after_end()) >= 2  # it kept reading during the grace
    [f] = leak_findings(w.series, "cleanup-leak", grace, "the disconnects")
    assert f.detail == ("lab_pending_sessions (sum of 2 samples) was 0 before the "
                        "disconnects, peaked at 3 and is still 3 after the 0.6 s grace")
    assert f.evidence["series"]["samples"][-1][1] == 3


def test_a_watch_url_that_hangs_during_settle_does_not_hold_it_past_the_grace(
        fresh: StateServer) -> None:
    specs = parse_watches([fresh.url("/metrics#lab_pending_sessions")],
                          [fresh.url("/state#open")], None)

    async def main() -> Watchers:
        # timeout 30 s: only the grace deadline can end the hung reading.
        async with Watchers(specs, time.perf_counter(), interval=0.05, timeout=30) as w:
            await w.baseline()
            fresh.hang.set()
            await w.start()
            w.mark_end()
            await w.settle(0.5)
            return w

    w = run(main(), limit=10)
    metric, state = w.series
    assert metric.returned()
    assert not state.returned() and not state.good_after_end()
    [f] = leak_findings(w.series, "storm-leak", 0.5, "the storm")
    assert f.evidence["unreadable"] is True
    assert "open was 0 before the storm but could not be read afterwards" in f.detail


def test_a_zero_grace_still_gets_a_reading_after_the_end(fresh: StateServer) -> None:
    specs = parse_watches(None, [fresh.url("/state#open")], None)

    async def main() -> Watchers:
        async with Watchers(specs, time.perf_counter(), interval=0.05) as w:
            await w.baseline()
            w.mark_end()
            await w.settle(0)
            return w

    [s] = run(main()).series
    assert s.good_after_end() and s.returned() and s.settled_ms is not None


def test_errors_during_the_run_are_recorded_not_raised(
        fresh: StateServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import sse_doctor.watchers.jsondoc as watchers_module

    specs = parse_watches([fresh.url("/metrics#lab_pending_sessions")],
                          [fresh.url("/state#open")], None)

    def broken(doc: Any, path: str) -> float:
        raise RuntimeError("boom")

    async def main() -> Watchers:
        async with Watchers(specs, time.perf_counter(), interval=0.05) as w:
            await w.baseline()
            metric, state = w.series
            fresh.fail.set()
            await w.start()
            await wait_until(lambda: state.error_count >= 1)
            monkeypatch.setattr(watchers_module, "json_value", broken)  # a bug in a reading
            fresh.fail.clear()
            await wait_until(lambda: "boom" in (state.last_error() or ""))
            monkeypatch.undo()
            count = len(state.samples)
            await wait_until(lambda: len(state.samples) > count + 1)  # it kept sampling
            w.mark_end()
            await w.settle(5)
            return w

    w = run(main())
    metric, state = w.series
    errors = [e for _, e in state.errors]
    assert errors[0] == "HTTP 503 Service Unavailable"
    assert "reading failed (RuntimeError: boom)" in errors
    assert metric.error_count == 0 and state.returned() and metric.returned()
    assert any(v is None for _, v in state.samples)


def test_settle_can_be_cancelled_and_aclose_still_cleans_up(fresh: StateServer) -> None:
    specs = parse_watches(None, [fresh.url("/state#open")], None)

    async def main() -> None:
        w = Watchers(specs, time.perf_counter(), interval=0.05, timeout=30)
        await w.baseline()
        fresh.hang.set()
        w.mark_end()
        task = asyncio.create_task(w.settle(30))
        await wait_until(lambda: fresh.hits["/state"] >= 2)  # the hung reading is in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await w.aclose()
        await w.aclose()  # idempotent
        assert all(src.task is None for src in w._sources.values())
        assert w._client is None

    run(main())


@pytest.mark.parametrize(("kind", "target", "message"), [
    ("json", "/missing#open", ": HTTP 404 Not Found"),
    ("json", "/state#name", ": name is a string ('lab'), not a number"),
    ("json", "/state#sessions.nope", ": no key 'nope' in sessions (keys: pending)"),
    ("json", "/metrics#open", ": the answer is not JSON"),
    ("metric", "/state#open", ": not Prometheus text exposition format"),
    ("metric", "/metrics#lab_pending_sesions", ": no metric named lab_pending_sesions "
               "(did you mean lab_pending_sessions"),
    ("metric", '/metrics#lab_pending_sessions{route="other"}',
     ': no sample named lab_pending_sessions with labels {route="other"} (have: '
     'lab_pending_sessions{route="leaky-session"}, lab_pending_sessions{route="clean-session"})'),
])
def test_bad_watch_urls_fail_at_baseline_with_one_line(
        fresh: StateServer, kind: str, target: str, message: str) -> None:
    text = fresh.url(target)
    spec = parse_watch_json(text) if kind == "json" else parse_watch_metric(text)

    async def main() -> None:
        async with Watchers([spec], time.perf_counter()) as w:
            await w.baseline()

    with pytest.raises(WatchError) as exc:
        run(main())
    assert str(exc.value).startswith(f"--watch-{kind} {text}{message}")
    assert "\n" not in str(exc.value)


def test_watch_url_that_never_answers_or_refuses() -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # listens, never accepts or answers
    try:
        hanging = parse_watch_json(f"http://127.0.0.1:{silent.getsockname()[1]}/state#open")
        refused = parse_watch_metric(f"http://127.0.0.1:{free_port()}/metrics#up")

        async def main(spec: WatchSpec) -> None:
            async with Watchers([spec], time.perf_counter(), timeout=0.3) as w:
                await w.baseline()

        with pytest.raises(WatchError, match=r"^--watch-json http://127\.0\.0\.1:\d+/state#open: "
                                             r"no answer within 0\.3 s$"):
            run(main(hanging))
        with pytest.raises(WatchError, match=r"^--watch-metric http://127\.0\.0\.1:\d+/metrics#up:"
                                             r" cannot connect \("):
            run(main(refused))
    finally:
        silent.close()


def test_port_nothing_listens_on() -> None:
    port = free_port()

    async def main() -> None:
        async with Watchers([parse_watch_port(port)], time.perf_counter()) as w:
            await w.baseline()

    with pytest.raises(WatchError) as exc:
        run(main())
    assert str(exc.value) == (f"--watch-port {port}: nothing listens on port {port} "
                              f"on this machine")


def test_port_counts_established_and_close_wait_on_real_sockets() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    client = None
    try:
        async def main() -> Watchers:
            nonlocal client
            async with Watchers([parse_watch_port(port)], time.perf_counter(),
                                interval=0.05) as w:
                await w.baseline()
                est, cw = w.series
                assert (est.name, cw.name) == (f"ESTABLISHED on :{port}", f"CLOSE_WAIT on :{port}")
                assert (est.baseline, cw.baseline, est.source) == (0, 0, f"port {port}")
                client = socket.create_connection(("127.0.0.1", port))
                conn, _ = listener.accept()
                accepted.append(conn)
                await w.start()
                # The client's own end has remote port PORT and is not counted. (Generous
                # limits: with thousands of sockets on the machine a listing takes a while.)
                await wait_until(lambda: est.final() == 1, limit=15)
                client.close()  # the server side accepted and never closes: CLOSE_WAIT
                await wait_until(lambda: cw.final() == 1 and est.final() == 0, limit=15)
                w.mark_end()
                await w.settle(0.3)
                return w

        w = run(main(), limit=40)
        est, cw = w.series
        assert est.returned() and not cw.returned() and cw.peak() == 1
        assert leak_findings(w.series, "cleanup-leak", 0.3, "the disconnects") == []
        [f] = close_wait_findings(w.series, 0.3, "the disconnects")
        assert f.detail.startswith(f"1 socket on :{port} still in CLOSE_WAIT 0.3 s after the "
                                   "disconnects")
    finally:
        for s in accepted:
            s.close()
        if client is not None:
            client.close()
        listener.close()


def test_no_watches_is_a_no_op() -> None:
    async def main() -> Watchers:
        async with Watchers([], time.perf_counter()) as w:
            await w.baseline()
            await w.start()
            w.mark_end()
            await w.settle(5)
            return w

    assert run(main()).series == []
