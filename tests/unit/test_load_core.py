"""The load engine's sans-I/O core: HTTP/1.1 head and body framing, histograms, the SSE stream
core's counting, and the fleet checks, without a network."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sse_doctor.checks.load_checks import run_load_checks
from sse_doctor.load.fleet import SampleMerge
from sse_doctor.load.histogram import SIZE, Histogram, bucket_bounds, bucket_of
from sse_doctor.load.http1 import HttpProtocolError, ResponseReader, parse_head
from sse_doctor.load.observation import LoadObservation, LoadSettings
from sse_doctor.load.recorder import BANDS, HISTOGRAMS, LoadRecorder
from sse_doctor.load.streams import (
    CLOSED,
    OPEN,
    LagReader,
    LagSpec,
    LoadTarget,
    SseStream,
    WsStream,
)

SSE_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"transfer-encoding: chunked\r\n\r\n")


def chunked(*parts: bytes, ext: bool = False) -> bytes:
    out = b""
    for p in parts:
        out += b"%x%s\r\n%s\r\n" % (len(p), b";x=1" if ext else b"", p)
    return out + b"0\r\n\r\n"


def feed_split(reader: ResponseReader, raw: bytes, cuts: list[int]) -> bytes:
    body = b""
    prev = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(raw))) + [len(raw)]:
        body += reader.feed(raw[prev:cut])
        prev = cut
    return body


# --- HTTP/1.1 ---------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.binary(min_size=1, max_size=40), max_size=8),
       cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12),
       ext=st.booleans(), trailer=st.booleans())
def test_chunked_body_is_the_same_however_the_reads_split(parts, cuts, ext, trailer) -> None:
    raw = SSE_HEAD + chunked(*parts, ext=ext)
    if trailer:
        raw = raw[:-2] + b"x-trailer: 1\r\n\r\n"
    reader = ResponseReader()
    assert feed_split(reader, raw, cuts) == b"".join(parts)
    assert reader.done and reader.head is not None and reader.head.status == 200


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_content_length_body_stops_at_its_length(body, cuts) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body + b"EXTRA"
    reader = ResponseReader()
    assert feed_split(reader, raw, cuts) == body
    assert reader.done


def test_a_body_without_length_runs_until_the_connection_ends() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n") \
        == b"data: 1\n"
    assert reader.feed(b"\n") == b"\n"
    assert not reader.done
    assert reader.eof() is True


def test_an_unfinished_chunked_body_is_not_complete_at_eof() -> None:
    reader = ResponseReader()
    reader.feed(SSE_HEAD + b"5\r\nhel")
    assert reader.eof() is False


def test_interim_responses_are_skipped_and_headers_parsed() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\n"
                b"Retry-After: 5\r\nContent-Length: 0\r\n\r\n")
    assert reader.head.status == 503 and reader.head.reason == "Service Unavailable"
    assert reader.head.header("retry-after") == "5" and reader.done


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
    b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n",
    b"SSH-2.0-OpenSSH\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
])
def test_bytes_that_do_not_frame_raise_one_error(raw) -> None:
    with pytest.raises(HttpProtocolError):
        ResponseReader().feed(raw)


def test_a_head_that_never_ends_is_bounded() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(HttpProtocolError, match="larger than"):
        for _ in range(100):
            reader.feed(b"X-Filler: " + b"a" * 1000 + b"\r\n")


def test_parse_head_keeps_header_order_and_values() -> None:
    head = parse_head(b"HTTP/1.1 200 OK\r\nA: 1\r\nB:  two words \r\nA: 3")
    assert head.headers == [("A", "1"), ("B", "two words"), ("A", "3")]


# --- histograms ----------------------------------------------------------------------------------
@given(st.floats(min_value=0.001, max_value=1e6, allow_nan=False))
def test_a_value_falls_inside_its_bucket(ms) -> None:
    low, high = bucket_bounds(bucket_of(ms))
    assert low <= ms < high
    assert high - low <= ms * 0.032 + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e5, allow_nan=False), min_size=1,
                max_size=300), st.sampled_from([0.5, 0.95, 0.99, 1.0]))
def test_percentiles_are_within_the_bucket_width_of_the_exact_rank(values, q) -> None:
    h = Histogram()
    for v in values:
        h.record(v)
    exact = sorted(values)[max(0, math.ceil(q * len(values)) - 1)]
    assert h.percentile(q) == pytest.approx(exact, rel=0.035)
    assert h.max == max(values) and h.count == len(values)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False)), st.lists(st.floats(0, 1e4, allow_nan=False)))
def test_merging_equals_recording_everything_and_survives_the_wire(a, b) -> None:
    ha, hb, both = Histogram(), Histogram(), Histogram()
    for v in a:
        ha.record(v)
        both.record(v)
    for v in b:
        hb.record(v)
        both.record(v)
    ha.merge(Histogram.from_wire(hb.to_wire()))
    assert ha.counts == both.counts and ha.count == both.count and ha.max == both.max


def test_out_of_range_values_land_in_the_edge_buckets() -> None:
    assert bucket_of(-5.0) == 0 and bucket_of(0.0) == 0
    assert bucket_of(1e12) == SIZE - 1
    h = Histogram()
    h.record(1e12)
    assert h.percentile(0.5) == 1e12  # capped by the exact maximum


# --- the SSE stream core -------------------------------------------------------------------------
def make_stream(now: float = 100.0, idle_limit: float = 30.0) -> tuple[LoadRecorder, SseStream]:
    rec = LoadRecorder(share=10, t0=now)
    return rec, SseStream(rec, LagReader(LagSpec("perf")), now, idle_limit)


def test_a_stream_counts_head_first_event_gaps_and_lab_lag() -> None:
    rec, s = make_stream()
    s.feed(SSE_HEAD, 100.002)
    assert s.state == OPEN and rec.open == 1 and rec.opening == 0
    s.feed(chunked(b": t=100.500000\n")[:-5], 100.503)
    s.feed(chunked(b"data: hello\n\n")[:-5], 101.0)
    assert rec.hist["headers_ms"].count == 1
    assert rec.hist["first_event_ms"].max == pytest.approx(1000.0)
    assert rec.hist["lag_ms"].max == pytest.approx(3.0, rel=0.05)
    assert rec.hist["gap_ms"].count == 1 and rec.items == 2
    s.feed(b"0\r\n\r\n", 101.5)  # the server ends the stream: a drop
    assert s.state == CLOSED and rec.dropped == 1 and rec.drops == {"ended": 1}


def test_refusals_by_status_type_timeout_and_close() -> None:
    rec, s = make_stream()
    s.feed(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", 100.1)
    _, t = make_stream()
    t.rec = rec
    rec.connecting()
    t.feed(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", 100.1)
    for kind in ("deadline", "eof"):
        rec.connecting()
        u = SseStream(rec, LagReader(LagSpec()), 100.0, 30.0)
        rec.opening -= 1  # SseStream counted itself once more
        u.deadline(111.0) if kind == "deadline" else u.eof(100.2, None)
    assert rec.refusals == {"503": 1, "not-event-stream": 1, "timeout": 1, "closed": 1}
    assert rec.failed == 4 and rec.first_refusal[0] == pytest.approx(0.1)


def test_a_broken_stream_and_a_silent_one() -> None:
    rec, s = make_stream(idle_limit=1.0)
    s.feed(SSE_HEAD, 100.0)
    s.feed(chunked(b": ping\n")[:-5], 103.0)  # 3 s of silence after the head
    s.eof(103.1, "reset")
    assert rec.drops == {"broken": 1} and rec.stalled == 1


def test_lag_from_wall_clock_stamps() -> None:
    reader = LagReader(LagSpec.parse("json:meta.sent", loopback=False))
    now = 50.0
    sent = now + reader.wall_offset - 0.25
    data = json.dumps({"meta": {"sent": sent}})
    assert reader.from_data(data, now) == pytest.approx(250.0, abs=0.01)
    assert reader.from_data("not json", now) is None
    c = LagReader(LagSpec.parse("comment:ts=", loopback=False))
    assert c.from_comment(f" ts={now + c.wall_offset - 0.01:.6f}", now) == pytest.approx(10.0,
                                                                                        abs=0.01)
    assert LagSpec.parse(None, loopback=False).kind == "none"
    with pytest.raises(ValueError):
        LagSpec.parse("header:x", loopback=True)


def test_the_request_is_what_eventsource_sends_plus_the_users_headers() -> None:
    t = LoadTarget(url="http://h:8080/s?x=1", protocol="sse", host="h", port=8080, tls=False,
                   headers=[("Authorization", "Bearer k"), ("Accept", "text/plain")])
    raw = t.request_bytes("41")
    assert raw.startswith(b"GET /s?x=1 HTTP/1.1\r\nHost: h:8080\r\n")
    assert b"Last-Event-ID: 41\r\n" in raw and b"Authorization: Bearer k\r\n" in raw
    assert b"Accept: text/event-stream" not in raw and raw.endswith(b"\r\n\r\n")


# --- fleet checks --------------------------------------------------------------------------------
def observation(**over) -> LoadObservation:
    counts = {"started": 1000, "opened": 1000, "failed": 0, "dropped": 0, "stalled": 0,
              "peak_open": 1000}
    counts.update(over.pop("counts", {}))
    base = dict(url="http://127.0.0.1/x", protocol="sse",
                settings=LoadSettings(streams=1000, ramp=100, duration=10, workers=2),
                workers=2, loop="uvloop", interrupted=False, counts=counts, refusals={},
                drops={}, local_errors={}, hist={k: Histogram() for k in HISTOGRAMS},
                phases=[], series=[{"t_s": t, "open": min(1000, 100 * t), "opening": 0,
                                    "failed": 0, "events_per_s": 0, "lag_p99_ms": None}
                                   for t in range(1, 21)],
                lag_bands=[Histogram() for _ in range(BANDS)],
                first_event_bands=[Histogram() for _ in range(BANDS)],
                first_refusal=None, first_drop_s=None, last_drop_s=None, cpu_percent=20.0,
                cpu_max=30.0, kib_per_stream=3.0, errors=[], elapsed_s=20.0)
    base.update(over)
    return LoadObservation(**base)


def codes(obs: LoadObservation) -> set[str]:
    return {f.code for f in run_load_checks(obs)}


def bands(values: list[float]) -> list[Histogram]:
    out = []
    for v in values:
        h = Histogram()
        for _ in range(20):
            h.record(v)
        out.append(h)
    return out


def test_a_healthy_fleet_has_no_findings() -> None:
    assert codes(observation()) == set()


def test_refusals_name_their_kinds_and_where_they_began() -> None:
    obs = observation(counts={"failed": 300, "opened": 700}, refusals={"503": 250, "timeout": 50},
                      first_refusal=(7.2, 720))
    [f] = run_load_checks(obs)
    assert f.code == "load-refused" and f.evidence["open_at_first_refusal"] == 700
    assert "503 (250)" in f.detail and "timeout (50)" in f.detail


def test_below_one_percent_nothing_is_reported() -> None:
    obs = observation(refusals={"reset": 5}, drops={"broken": 9}, counts={"stalled": 9})
    assert codes(obs) == set()


def test_drops_and_stalls() -> None:
    obs = observation(drops={"broken": 40}, first_drop_s=12.0, last_drop_s=14.0,
                      counts={"stalled": 30})
    assert codes(obs) == {"load-dropped", "load-stalled"}


def test_clean_ends_are_no_drop_when_reconnecting() -> None:
    s = LoadSettings(streams=1000, ramp=100, duration=10, workers=2, reconnect=True)
    assert codes(observation(settings=s, drops={"ended": 500})) == set()
    assert codes(observation(settings=s, drops={"broken": 500})) == {"load-dropped"}


def test_degraded_needs_both_a_ratio_and_a_size() -> None:
    healthy = [0.1 + 0.3 * i for i in range(BANDS)]  # 0.1 -> 2.8 ms: 28 x, but tiny
    assert codes(observation(lag_bands=bands(healthy))) == set()
    knee = [2, 2, 3, 3, 5, 40, 200, 400, 600, 800]
    [f] = run_load_checks(observation(lag_bands=bands(knee)))
    assert f.code == "load-degraded" and f.evidence["lag_knee_streams"] == 600
    slow_start = [900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800]  # 2 x only
    assert codes(observation(first_event_bands=bands(slow_start))) == set()


def test_an_interrupted_run_is_incomplete_not_passed() -> None:
    assert codes(observation(interrupted=True)) == {"check-incomplete"}


def test_a_busy_generator_or_local_errors_are_reported() -> None:
    assert codes(observation(cpu_percent=93.0)) == {"load-generator-saturated"}
    assert codes(observation(local_errors={"EMFILE": 3})) == {"load-generator-saturated"}
    [f] = run_load_checks(observation(errors=["worker 1 ended without reporting"]))
    assert f.code == "load-generator-saturated" and "worker 1" in f.detail


# --- the WebSocket stream core, against websockets' own sans-I/O server ------------------------
def ws_pair(send: tuple[bytes, ...] = ()):
    from websockets.server import ServerProtocol

    rec = LoadRecorder(share=10, t0=0.0)
    target = LoadTarget(url="ws://127.0.0.1:9/ws", protocol="ws", host="127.0.0.1", port=9,
                        tls=False, send=send)
    client = WsStream(rec, LagReader(LagSpec.parse("json:t", loopback=True)), 0.0, target)
    server = ServerProtocol()
    server.receive_data(client.initial())
    [request] = server.events_received()
    return rec, client, server, request


def test_a_websocket_opens_counts_messages_and_answers_pings() -> None:
    rec, client, server, request = ws_pair(send=(b"hello",))
    server.send_response(server.accept(request))
    out = client.feed(b"".join(server.data_to_send()), 0.01)
    assert client.state == OPEN and rec.opened == 1
    server.receive_data(out)
    assert [f.data for f in server.events_received()] == [b"hello"]  # --send after open
    server.send_text(json.dumps({"t": 0.02 + client.lag.wall_offset - 0.005}).encode())
    server.send_ping(b"p")
    out = client.feed(b"".join(server.data_to_send()), 0.02)
    server.receive_data(out)
    assert [f.opcode.name for f in server.events_received()] == ["PONG"]
    assert rec.items == 2 and rec.hist["first_event_ms"].count == 1
    assert rec.hist["lag_ms"].max == pytest.approx(5.0, abs=0.01)
    server.send_close(1001)
    client.feed(b"".join(server.data_to_send()), 0.5)
    client.eof(0.6, None)
    assert rec.drops == {"closed": 1}


def test_a_refused_handshake_is_a_refusal_by_status() -> None:
    rec, client, server, request = ws_pair()
    server.send_response(server.reject(403, "no\n"))
    client.feed(b"".join(server.data_to_send()), 0.01)
    assert client.state == CLOSED and rec.refusals == {"403": 1}


# --- the parent's per-second merge --------------------------------------------------------------
def _worker_sample(t_s: float, open_: int, lags: list[float]) -> dict:
    h = Histogram()
    for v in lags:
        h.record(v)
    return {"t_s": t_s, "open": open_, "opening": 0, "failed": 0, "dropped": 0,
            "items": len(lags), "lag": h.to_wire(), "cpu": 10.0}


def _keep_everything(workers: int) -> SampleMerge:
    merge = SampleMerge(workers)
    merge.SEAL_AFTER_S = 10**9  # never seal: every raw sample kept, as before sealing
    return merge


def test_sealed_seconds_give_the_series_raw_samples_give_and_stay_bounded() -> None:
    rng = random.Random(7)
    sealed, kept = SampleMerge(2), _keep_everything(2)
    for sec in range(1, 400):
        for index in (0, 1):
            # worker 1 runs a second behind; both stamp a little off the whole second
            sample = _worker_sample(sec - index + rng.uniform(-0.2, 0.2), 100 * index + sec,
                                    [rng.uniform(0.1, 50) for _ in range(rng.randint(0, 30))])
            sealed.add(index, sample)
            kept.add(index, sample)
        if sec % 50 == 0:
            assert sealed.latest() == kept.latest()
    assert sealed.series() == kept.series()
    assert len(sealed.by_sec) <= 3  # raw histograms only until both workers are past a second


def test_a_generator_that_stops_reporting_holds_raw_samples_for_a_bounded_time() -> None:
    merge = SampleMerge(2)
    merge.add(1, _worker_sample(1.0, 5, [1.0]))  # worker 1 reports once, then dies
    for sec in range(1, 300):
        merge.add(0, _worker_sample(sec, 10, [2.0]))
    assert len(merge.by_sec) <= merge.SEAL_AFTER_S + 1
    rows = merge.series()
    assert [r["t_s"] for r in rows] == list(range(1, 300))
    assert rows[-1]["open"] == 15  # the dead worker's last counts still carry forward


def test_a_sample_later_than_the_seal_still_counts_its_events() -> None:
    merge = SampleMerge(1)
    for sec in range(1, 20):
        merge.add(0, _worker_sample(sec, 5, [1.0]))
    merge.add(0, _worker_sample(2.0, 5, [1.0, 2.0, 3.0]))  # long after second 2 was sealed
    row = next(r for r in merge.series() if r["t_s"] == 2)
    assert row["events_per_s"] == 4 and row["open"] == 5


def test_garbage_bytes_count_their_stream_as_malformed_once() -> None:
    rec, s = make_stream()
    s.feed(SSE_HEAD, 100.002)
    s.feed(chunked(b"Data: x\n\n: y\nevent: e\ndata: ok\n\n")[:-5], 100.01)
    s.feed(chunked(b"Bogus: 1\n\n")[:-5], 100.02)
    assert rec.malformed == 1 and rec.items == 2  # the comment and the event
    assert rec.diagnostics == {"ignored-field": 2}
    clean = SseStream(rec, LagReader(LagSpec("perf")), 100.0, 30.0)
    clean.feed(SSE_HEAD, 100.002)
    clean.feed(chunked(b"data: a\n\n")[:-5], 100.01)
    assert rec.malformed == 1
    wire = rec.to_wire()
    assert wire["counts"]["malformed"] == 1 and wire["diagnostics"] == {"ignored-field": 2}


def test_malformed_streams_make_a_fleet_finding_above_the_share() -> None:
    obs = observation(counts={"malformed": 300},
                      diagnostics={"invalid-utf8": 40, "ignored-field": 900})
    (f,) = [f for f in run_load_checks(obs) if f.code == "load-malformed"]
    assert f.detail.startswith("300 of 1000 streams (30 %) carried bytes that break")
    assert "900 x unknown field names" in f.detail.split(";")[0]
    assert f.evidence["by_kind"] == {"invalid-utf8": 40, "ignored-field": 900}
    assert "load-malformed" not in {f.code for f in run_load_checks(
        observation(counts={"malformed": 5}, diagnostics={"invalid-utf8": 5}))}


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-10.0, max_value=1e9, allow_nan=False),
       st.floats(min_value=-10.0, max_value=1e9, allow_nan=False))
def test_a_recorded_items_values_land_in_their_buckets(gap, lag) -> None:
    # LoadRecorder.item writes Histogram.record out by hand (the hot path): same buckets
    rec = LoadRecorder(10, 0.0)
    rec.item(gap, lag)
    for name, ms in (("gap_ms", gap), ("lag_ms", lag)):
        h = rec.hist[name]
        assert h.count == 1 and h.counts[bucket_of(ms)] == 1 and h.max == max(0.0, ms)


def test_a_heartbeat_line_is_read_as_the_line_loop_reads_it() -> None:
    # SSEParser.comment_line is the parser's one-comment-line path that the load engine takes
    # without feed(): it must give exactly what feed gives, and None where feed has more to do
    from sse_doctor.sse.parser import SSEParser

    shapes = {b": t=1.5\n": " t=1.5", b":\n": "", b": ping\n": " ping"}
    for raw in (*shapes, b":x\r\n", b": a\n: b\n", b": t\n\n", b": \xff\n", b"data: x\n",
                b": no end", b"\xef\xbb\xbf: bom\n"):
        for warm in (False, True):
            p, q = SSEParser(), SSEParser()
            if warm:  # the stream's first bytes (a possible BOM) already read
                p.feed(b": hello\n")
                q.feed(b": hello\n")
            text = p.comment_line(raw)
            assert text == (shapes.get(raw) if warm else None)
            items = q.feed(raw, 1.0)
            if text is not None:
                assert [(type(i).__name__, i.text) for i in items] == [("Comment", text)]
                assert p.feed(b"data: after\n\n", 2.0)[0].data == "after"
