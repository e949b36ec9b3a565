"""Watchers: option parsing, JSON path rules, metric selection on recorded expositions, Series
bookkeeping, and the real thing against a small Starlette app and real sockets.

No test sleeps for a fixed time: they wait on conditions with a deadline.
"""

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
import uvicorn
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sse_doctor.checks.watch_checks import close_wait_findings, leak_findings
from sse_doctor.errors import UsageError
from sse_doctor.redact import Redactor
from sse_doctor.watchers import (
    JSON_SAMPLES,
    MAX_SAMPLES,
    Series,
    WatchError,
    Watchers,
    WatchSpec,
    _ReadError,
    downsample_indices,
    json_value,
    parse_exposition,
    parse_selector,
    parse_watch_json,
    parse_watch_metric,
    parse_watch_port,
    parse_watches,
    select_metric,
    sparkline,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "watch"
T = TypeVar("T")


def families(name: str, content_type: str = "") -> list[Any]:
    return parse_exposition((FIXTURES / name).read_text(), content_type)


def pick(fams: list[Any], selector: str, *, strict: bool = True) -> tuple[float, int]:
    name, labels = parse_selector(selector)
    p = select_metric(fams, name, labels, strict=strict)
    return p.value, p.matched


# --- option parsing ----------------------------------------------------------------------------


def test_metric_spec_good_forms() -> None:
    s = parse_watch_metric('http://127.0.0.1:8000/metrics#lab_pending{route="a", env="x"}')
    assert s == WatchSpec("metric", 'http://127.0.0.1:8000/metrics#lab_pending{route="a", '
                          'env="x"}', "http://127.0.0.1:8000/metrics",
                          'lab_pending{route="a",env="x"}', None)
    assert s.option() == '--watch-metric http://127.0.0.1:8000/metrics#lab_pending{route="a",env="x"}'
    assert parse_watch_metric("https://h/m#up").selector == "up"
    assert parse_watch_metric("http://h/m#up{}").selector == "up"
    assert parse_watch_metric('http://h/m#up{a="b",}').selector == 'up{a="b"}'
    # Only the first '#' splits: a label value may contain one; escapes survive a round trip.
    assert parse_watch_metric('http://h/m#x{p="a#b"}').selector == 'x{p="a#b"}'
    esc = parse_watch_metric(r'http://h/m#x{p="C:\\t",q="say \"hi\""}').selector
    assert parse_selector(esc) == ("x", {"p": "C:\\t", "q": 'say "hi"'})


@pytest.mark.parametrize(("text", "message"), [
    ("http://h/metrics", "no '#' found"),
    ("http://h/metrics#", "no metric name after '#'"),
    ("ftp://h/metrics#up", "must start with http:// or https://"),
    ("h/metrics#up", "must start with http:// or https://"),
    ("http:///metrics#up", "name a host"),
    ("http://h:99999/m#up", "bad URL"),
    ("http://h/m#9lives", "does not start with a metric name"),
    ("http://h/m#up extra", "unexpected 'extra' after the metric name"),
    ('http://h/m#up{a="b"} 3', "after the metric name"),
    ("http://h/m#up{a}", "bad label selector"),
    ("http://h/m#up{a=b}", "bad label selector"),
    ('http://h/m#up{a="b" c="d"}', "bad label selector"),
    ('http://h/m#up{a="b",a="c"}', "bad label selector"),
    ('http://h/m#up{a="b"', "unexpected"),
    ('http://h/m#up{a=~"b.*"}', "only exact label matches"),
    ('http://h/m#up{a!="b"}', "only exact label matches"),
])
def test_metric_spec_bad_forms(text: str, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_watch_metric(text)
    assert str(exc.value).startswith("--watch-metric ")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_spec_messages_mask_secret_query_parameters() -> None:
    with pytest.raises(UsageError) as exc:
        parse_watch_metric("http://h/m?token=s3cr3t-value#9x")
    assert "s3cr3t-value" not in str(exc.value)
    spec = parse_watch_json("http://u:pa55word@h/state?api_key=abcdef#a.b")
    assert "abcdef" not in spec.option() and "pa55word" not in spec.option()
    assert spec.option().startswith("--watch-json http://u:[REDACTED]@h/state?api_key=")


def test_json_spec_forms() -> None:
    s = parse_watch_json("http://127.0.0.1:8000/state#sessions.pending")
    assert (s.kind, s.url, s.selector, s.port) == (
        "json", "http://127.0.0.1:8000/state", "sessions.pending", None)
    assert s.option() == "--watch-json http://127.0.0.1:8000/state#sessions.pending"
    assert parse_watch_json("http://h/state#").selector == ""  # the whole document
    for bad, message in [("http://h/state", "no '#'"), ("http://h/s#a..b", "empty segment"),
                         ("http://h/s#.a", "empty segment"), ("file:///s#a", "http://")]:
        with pytest.raises(UsageError, match=message):
            parse_watch_json(bad)


def test_port_spec() -> None:
    s = parse_watch_port(8000)
    assert (s.kind, s.port, s.url, s.option()) == ("port", 8000, None, "--watch-port 8000")
    assert parse_watch_port(1).port == 1 and parse_watch_port(65535).port == 65535
    for bad in (0, -1, 65536, True):
        with pytest.raises(UsageError, match="from 1 to 65535"):
            parse_watch_port(bad)


def test_parse_watches_keeps_order_and_drops_repeats() -> None:
    specs = parse_watches(["http://h/m#a", "http://h/m#b", "http://h/m#a"],
                          ["http://h/s#x"], [8000, 8000])
    assert [(s.kind, s.selector or s.port) for s in specs] == [
        ("metric", "a"), ("metric", "b"), ("json", "x"), ("port", 8000)]
    assert parse_watches(None, None, None) == []


# --- JSON path rules ---------------------------------------------------------------------------

DOC = {
    "open": 3, "load": 0.25, "ok": True, "down": False, "count": "17", "ratio": " 2.5 ",
    "sci": "1e3", "name": "lab", "nothing": None, "huge": "NaN",
    "sessions": {"pending": ["a", "b"], "by_user": {"u1": 1, "u2": 2}, "0": "zero-key"},
    "items": [{"n": 5}, {"n": 7}],
}


@pytest.mark.parametrize(("path", "value"), [
    ("open", 3), ("load", 0.25), ("ok", 1), ("down", 0),
    ("count", 17), ("ratio", 2.5), ("sci", 1000),
    ("sessions.pending", 2), ("sessions.by_user", 2), ("sessions.by_user.u2", 2),
    ("sessions.0", None),  # a dict key that looks like an index is still a key (a string)
    ("items.1.n", 7), ("items.-1.n", 7), ("items.0.n", 5), ("items", 2), ("", len(DOC)),
])
def test_json_path_values(path: str, value: float | None) -> None:
    if value is None:
        with pytest.raises(_ReadError, match="not a number"):
            json_value(DOC, path)
        return
    assert json_value(DOC, path) == value


@pytest.mark.parametrize(("path", "message"), [
    ("missing", "no key 'missing' in the document (keys: open, load"),
    ("sessions.missing", "no key 'missing' in sessions (keys: pending, by_user, 0)"),
    ("items.2.n", "index 2 is out of range: items has 2 items"),
    ("items.-3", "index -3 is out of range"),
    ("items.first", "items is a list; 'first' is not an index"),
    ("items.+1", "not an index"),
    ("open.value", "open is a int, which has no 'value'"),
    ("name", "name is a string ('lab'), not a number"),
    ("nothing", "nothing is null, not a number"),
    ("huge", "huge is nan, not a finite number"),
])
def test_json_path_errors(path: str, message: str) -> None:
    with pytest.raises(_ReadError) as exc:
        json_value(DOC, path)
    assert message in str(exc.value)


def test_json_whole_document_scalars() -> None:
    assert json_value(4, "") == 4
    assert json_value([1, 2, 3], "") == 3
    with pytest.raises(_ReadError, match="the document is a string"):
        json_value("busy", "")


# --- metric selection on recorded expositions -----------------------------------------------


def test_go_client_exposition() -> None:
    fams = families("go_server.prom")
    assert pick(fams, "go_goroutines") == (42, 1)
    # A counter by its sample name or by prometheus-client's family name (no _total).
    assert pick(fams, "http_requests_total") == (1342, 4)
    assert pick(fams, "http_requests") == (1342, 4)
    # Labels are a subset match; several matches are summed.
    assert pick(fams, 'http_requests_total{handler="/events"}') == (1031, 3)
    assert pick(fams, 'http_requests_total{handler="/events",code="200"}') == (1027, 1)
    assert pick(fams, 'stream_sessions_open{route="jobs"}') == (3, 2)
    assert pick(fams, 'stream_sessions_open{route="jobs",tenant="acme"}') == (1, 1)
    # Histogram parts; the +Inf bucket's label value as the exposition writes it.
    assert pick(fams, 'http_request_duration_seconds_bucket{le="+Inf"}') == (1031, 1)
    assert pick(fams, "http_request_duration_seconds_count") == (1031, 1)
    assert pick(fams, "http_request_duration_seconds_sum") == (87.25, 1)
    assert pick(fams, "process_resident_memory_bytes") == (23986176, 1)
    # Escaped label values: backslashes, quotes and newlines mean what the exposition says.
    assert pick(fams, r'upload_pending{path="C:\\tmp\\upload-7"}') == (1, 1)
    assert pick(fams, r'upload_pending{msg="waiting for \"final\" chunk\nretrying"}') == (1, 1)
    # Declared with no samples yet (a labelled gauge before its first child): 0.
    assert pick(fams, "sse_session_pending") == (0, 0)


def test_python_client_exposition() -> None:
    fams = families("python_client.prom")
    assert pick(fams, 'lab_pending_sessions{route="leaky-session"}') == (3, 1)
    assert pick(fams, "lab_pending_sessions") == (3, 2)
    assert pick(fams, "lab_disconnects") == (5, 2)
    assert pick(fams, 'lab_disconnects_total{route="clean-session"}') == (2, 1)
    assert pick(fams, "lab_stream_seconds_count") == (3, 1)
    assert pick(fams, 'lab_stream_seconds_bucket{le="5.0"}') == (2, 1)
    assert pick(fams, "lab_send_seconds_sum") == (0.01, 1)
    assert pick(fams, 'lab_build_info{version="1.2.3"}') == (1, 1)


def test_openmetrics_exposition_by_content_type() -> None:
    fams = families("openmetrics.txt", "application/openmetrics-text; version=1.0.0")
    assert pick(fams, "stream_connections") == (17, 1)
    assert pick(fams, 'stream_connections_total{route="events"}') == (17, 1)
    assert pick(fams, "stream_open") == (4, 1)


def test_metric_selection_errors() -> None:
    fams = families("go_server.prom")
    with pytest.raises(_ReadError) as exc:
        pick(fams, 'http_requests_total{code="404"}')
    assert str(exc.value).startswith(
        'no sample named http_requests_total with labels {code="404"} (have: '
        'http_requests_total{code="200",handler="/events",method="get"}, ')
    with pytest.raises(_ReadError, match=r"no metric named go_gorutines \(did you mean "
                                         r"go_goroutines\?\)"):
        pick(fams, "go_gorutines")
    with pytest.raises(_ReadError, match=r"no metric named zzz \(have: go_goroutines, .*more\)"):
        pick(fams, "zzz")
    with pytest.raises(_ReadError, match="is a histogram, not one sample: watch one of "
                                         "http_request_duration_seconds_bucket"):
        pick(fams, "http_request_duration_seconds")
    # During a run a label set that went away reads 0: a per-session child was removed.
    assert pick(fams, 'http_requests_total{code="404"}', strict=False) == (0, 0)
    with pytest.raises(_ReadError, match="no metric named"):
        pick(fams, "zzz", strict=False)
    with pytest.raises(_ReadError, match="the exposition has no metrics"):
        pick(parse_exposition(""), "up")


def test_not_an_exposition() -> None:
    with pytest.raises(_ReadError, match="not Prometheus text exposition format.*<!doctype"):
        parse_exposition("<!doctype html><html><body>Login</body></html>\n")
    with pytest.raises(_ReadError, match="not Prometheus text exposition format"):
        parse_exposition('{"open": 3}\n')
    with pytest.raises(_ReadError, match="not a finite number"):
        pick(parse_exposition("# TYPE q gauge\nq NaN\n"), "q")


# --- Series bookkeeping ------------------------------------------------------------------------


def make_series(baseline: float, values: list[float | None], end_at: int) -> Series:
    s = Series("x", "json", "http://h/s")
    s.baseline = baseline
    for i, v in enumerate(values):
        if i == end_at:
            s.mark_end(i * 100.0)
        s.add(i * 100.0, v, None if v is not None else "HTTP 502 Bad Gateway")
    return s


def test_returned_and_settled() -> None:
    s = make_series(0, [0, 2, 3, 1, 0, 0], end_at=3)
    assert (s.final(), s.peak(), s.returned(), s.settled_ms) == (0, 3, True, 400.0)
    assert s.confirmed_back()
    # It went up again after first coming back: settle time is the last return.
    s = make_series(0, [0, 2, 0, 1, 0], end_at=1)
    assert s.settled_ms == 400.0 and s.returned()
    assert not s.confirmed_back()  # one reading at baseline is not yet a confirmed return
    s = make_series(1, [1, 4, 4, 3], end_at=2)
    assert (s.returned(), s.settled_ms, s.final(), s.peak()) == (False, None, 3, 4)
    # A failed reading after the end does not move the settle time and is no return either.
    s = make_series(0, [0, 2, 0, None], end_at=2)
    assert s.settled_ms == 200.0 and s.returned() and not s.confirmed_back()
    s = make_series(0, [0, 2, None, None], end_at=2)
    assert not s.returned() and s.settled_ms is None and s.final() == 2
    assert s.error_count == 2 and s.last_error() == "HTTP 502 Bad Gateway"
    # Before mark_end every reading counts; without a baseline nothing has returned.
    s = make_series(2, [2, 5, 1], end_at=99)
    assert s.returned() and s.end_ms is None
    assert not Series("y", "json", "u").returned()


def test_mark_end_recomputes_settled_from_readings_already_taken() -> None:
    s = make_series(0, [0, 3, 0, 0], end_at=99)
    s.mark_end(150.0)
    assert s.settled_ms == 200.0 and s.confirmed_back()


def test_errors_are_bounded_and_keep_the_latest() -> None:
    s = Series("x", "metric", "http://h/m")
    for i in range(100):
        s.add(float(i), None, f"error {i}")
    assert len(s.errors) == 20 and s.error_count == 100
    assert s.errors[0] == (0.0, "error 0") and s.errors[-1] == (99.0, "error 99")


def test_downsample_indices_keep_first_last_peak() -> None:
    values: list[float | None] = [float(i % 7) for i in range(1000)]
    values[333] = 50.0
    idx = downsample_indices(values, 300, keep=[777])
    assert len(idx) <= 300 and idx == sorted(set(idx))
    assert {0, 999, 333, 777} <= set(idx)
    assert downsample_indices([1.0, 2.0], 300) == [0, 1]
    assert downsample_indices([None] * 10, 4)[0] == 0


def test_to_json_is_bounded_and_keeps_the_shape() -> None:
    s = Series('pending{route="a"}', "metric", "http://h/metrics?token=abcdef")
    s.baseline = 0
    s.add(-5.0, 0)
    for i in range(2000):
        if i == 1500:
            s.mark_end(i * 10.0)
        s.add(i * 10.0, 9.0 if i == 777 else float(i < 1600))
    js = s.to_json(Redactor())
    assert set(js) >= {"name", "kind", "source", "baseline", "final", "peak", "returned",
                       "settled_ms", "samples", "errors"}
    assert js["source"] == "http://h/metrics?token=[REDACTED]"
    assert len(js["samples"]) <= JSON_SAMPLES and js["sample_count"] == 2001
    assert js["samples"][0] == [-5.0, 0] and js["samples"][-1] == [19990.0, 0]
    assert [7770.0, 9] in js["samples"]  # the peak
    assert [16000.0, 0] in js["samples"]  # the moment it settled
    assert (js["peak"], js["final"], js["returned"], js["settled_ms"]) == (9, 0, True, 16000.0)


def test_memory_stays_bounded_and_settle_time_survives_compaction() -> None:
    s = Series("x", "metric", "http://h/m")
    s.baseline = 0
    s.mark_end(0.0)
    for i in range(3 * MAX_SAMPLES):
        s.add(float(i), 5.0 if i < 2 * MAX_SAMPLES else 0.0)
    assert len(s.samples) <= MAX_SAMPLES
    assert s.settled_ms == 2 * MAX_SAMPLES and s.peak() == 5 and s.returned()


def test_sparkline() -> None:
    s = make_series(0, [0, 1, 3, 3, 0, 0], end_at=4)
    line = sparkline(s)
    assert line.plain.startswith("▁▃██▁▁  x: 0 before, peak 3, now 0, back 0.0 s after the end")
    leak = make_series(0, [0, 3, 3], end_at=2)
    assert sparkline(leak).plain.endswith("now 3, not back")
    dead = make_series(0, [0, 2, None], end_at=2)
    assert sparkline(dead).plain.startswith("▁█·")
    assert sparkline(dead).plain.endswith("unreadable after the end")
    flat = make_series(1.5, [1.5] * 100, end_at=50)
    assert flat.name in sparkline(flat, width=10).plain
    assert sparkline(flat, width=10).plain.startswith("▁" * 10 + "  x: 1.5 before")


# --- the real thing ------------------------------------------------------------------------------


class StateServer:
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

        app = Starlette(routes=[Route("/metrics", metrics), Route("/state", state)])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> StateServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:  # uvicorn offers no event to wait on
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.hang.clear()
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


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

