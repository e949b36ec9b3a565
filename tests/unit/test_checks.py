"""The pure checks, from recordings in fixtures/recordings (made from the lab) and from
small hand-built recordings for the edge cases each detector must get right."""

from __future__ import annotations

import json
import pathlib
import random

import pytest

from sse_doctor.checks import divergence
from sse_doctor.checks.selection import run_sse_checks
from sse_doctor.model import ProbeOptions
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.sse.replay import replay
from tests.support.recordings import SSE_HEADERS, ev, make

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "recordings"


def codes_for(rec: dict, opts: ProbeOptions) -> set[str]:
    findings, _ = run_sse_checks(replay(rec, opts), opts)
    return {f.code for f in findings}


def opts_from(args: list[str]) -> ProbeOptions:
    _, opts, _ = plan_probe(probe_values(["http://lab.invalid/", *args]))
    return opts


@pytest.mark.parametrize("path", sorted(RECORDINGS.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_lab_stream_gets_its_diagnosis(path: pathlib.Path) -> None:
    rec = json.loads(path.read_text())
    assert codes_for(rec, opts_from(rec["probe_args"])) == set(rec["expect"])






OPTS = ProbeOptions(duration=10, idle_limit=2)


def test_healthy_stream_with_irregular_timing_is_not_buffered() -> None:
    rng = random.Random(7)
    t, chunks = 5.0, []
    for i in range(40):
        t += rng.choice([20, 50, 400, 900, 1500])  # bursty producer, each event its own write
        chunks.append((t, ev(i)))
    assert "buffered-delivery" not in codes_for(make(chunks, end=t + 100), OPTS)


def test_proxy_buffer_releasing_full_blocks_is_buffered() -> None:
    # A steady 10 events/s stream behind a 4 KiB proxy buffer: every ~4 KiB leave together.
    chunks, block, t = [], "", 5.0
    for i in range(200):
        block += ev(i) + ": " + "x" * 150 + "\n\n"
        if len(block) >= 4096:
            t = 5.0 + i * 100
            chunks.append((t, block[:4096]))
            block = block[4096:]
    found = codes_for(make(chunks, end=t + 50), ProbeOptions(duration=30, idle_limit=30))
    assert "buffered-delivery" in found


def test_everything_held_until_the_end_is_buffered() -> None:
    body = "".join(ev(i) for i in range(8))
    found = codes_for(make([(1800.0, body)], end=1900.0, by="server"), OPTS)
    assert "buffered-delivery" in found


def test_a_short_answer_written_late_in_one_go_is_not_buffered() -> None:
    # A GraphQL resolver that raises under load: next (errors) and complete, head and all,
    # 400 ms after the request. Nothing was held back: there was nothing to send before.
    body = ev(1) + ev(2) + ": done\n\n"
    for head_ms in (400.0, 5.0):  # the head with the body, or flushed at once
        rec = make([(400.3, body)], end=401.0, by="server", head_ms=head_ms)
        assert "buffered-delivery" not in codes_for(rec, OPTS)


def test_a_fast_stream_coalesced_by_tcp_is_not_buffered() -> None:
    # Many events per read, but no silence before them: the reader was simply busy.
    chunks = [(5.0 + i * 2, ev(3 * i) + ev(3 * i + 1) + ev(3 * i + 2)) for i in range(100)]
    assert "buffered-delivery" not in codes_for(make(chunks, end=300.0), OPTS)


def _every_second_in_one_read(seconds: int) -> list[tuple[float, str]]:
    """10 events a second, each second's ten arriving together at its end."""
    return [(1000.0 * (s + 1), "".join(ev(10 * s + i) for i in range(10)))
            for s in range(seconds)]


def _buffered(chunks: list[tuple[float, str]], stalls: list[tuple[float, float]]) -> bool:
    obs = replay(make(chunks, end=chunks[-1][0] + 50), OPTS)
    obs.client_stalls = stalls
    findings, _ = run_sse_checks(obs, OPTS)
    return "buffered-delivery" in {f.code for f in findings}


def test_bursts_after_the_clients_own_stalls_are_not_the_servers_buffering() -> None:
    # A busy machine: the client's loop could not run for 950 ms of every second, so each
    # second's events waited in its socket and came in one read.
    chunks = _every_second_in_one_read(6)
    stalls = [(1000.0 * s + 40, 1000.0 * (s + 1) - 5) for s in range(6)]
    assert _buffered(chunks, [])  # the same reads without the stalls: a buffer
    assert not _buffered(chunks, stalls)


def test_a_short_client_stall_does_not_excuse_a_longer_silence() -> None:
    # 200 ms of each 1 s silence were the client's; the other 800 ms still held the events.
    chunks = _every_second_in_one_read(6)
    stalls = [(1000.0 * (s + 1) - 200, 1000.0 * (s + 1) - 1) for s in range(6)]
    assert _buffered(chunks, stalls)


def test_silence_before_the_first_byte_counts_as_no_heartbeat() -> None:
    found = codes_for(make([(2500.0, ev(1))], end=2600.0), OPTS)
    assert "no-heartbeat" in found


def test_comment_heartbeats_keep_the_silence_short() -> None:
    chunks = [(5.0, ev(1))] + [(5.0 + 1000 * k, ": ping\n") for k in range(1, 10)]
    chunks.append((9900.0, ev(2)))
    assert codes_for(make(chunks, end=10000.0), OPTS) == set()


def test_stall_needs_keepalives_and_a_long_data_silence() -> None:
    pings = [(5.0 + 300 * k, ": ping\n") for k in range(1, 30)]
    stalled = make([(5.0, ev(1, "progress"))] + pings, end=9000.0)
    assert "stalled-stream" in codes_for(stalled, OPTS)
    # Events every 500 ms with pings between: alive, not stalled.
    lively = sorted([(5.0 + 500 * k, ev(k)) for k in range(18)] + pings)
    assert "stalled-stream" not in codes_for(make(lively, end=9000.0), OPTS)


def test_ping_events_do_not_count_as_data() -> None:
    pings = [(5.0 + 300 * k, f"event: ping\ndata: {{}}\nid: p{k}\n\n") for k in range(1, 30)]
    rec = make([(5.0, ev(1, "progress"))] + pings, end=9000.0)
    found = codes_for(rec, OPTS)
    assert "stalled-stream" in found
    assert "repeated-payload" not in found  # identical ping payloads are expected


def test_repeated_payload_needs_a_run() -> None:
    same = [(5.0 + 100 * k, f"id: {k}\ndata: same\n\n") for k in range(6)]
    assert "repeated-payload" in codes_for(make(same, end=700.0), OPTS)
    few = [(5.0 + 100 * k, f"id: {k}\ndata: same\n\n") for k in range(4)]
    assert "repeated-payload" not in codes_for(make(few, end=500.0), OPTS)


def test_missing_expected_event_versus_premature_close() -> None:
    opts = ProbeOptions(duration=10, idle_limit=5, expect_events=("completed",))
    chunks = [(5.0 + 100 * k, ev(k, "progress")) for k in range(5)]
    assert codes_for(make(chunks, end=10000.0), opts) >= {"missing-expected-event"}
    ended = codes_for(make(chunks, end=600.0, by="server"), opts)
    assert "premature-close" in ended and "missing-expected-event" not in ended
    done = chunks + [(700.0, ev(9, "completed"))]
    assert codes_for(make(done, end=800.0, by="server"), opts) == set()


def test_transport_break_is_premature_close_and_clean_end_is_stream_ended() -> None:
    chunks = [(5.0, ev(1))]
    assert codes_for(make(chunks, end=50.0, by="transport"), OPTS) == {"premature-close"}
    assert codes_for(make(chunks, end=50.0, by="server"), OPTS) == {"stream-ended"}


def test_expect_close() -> None:
    opts = ProbeOptions(duration=5, idle_limit=5, expect_close=2)
    chunks = [(5.0 + 250 * k, ev(k)) for k in range(12)]
    assert codes_for(make(chunks, end=3000.0), opts) == {"no-server-timeout"}
    assert codes_for(make(chunks[:6], end=1500.0, by="server"), opts) == set()


def test_retry_ids_and_format() -> None:
    low = make([(5.0, "retry: 500\n" + ev(1))], end=100.0)
    assert codes_for(low, OPTS) == {"low-retry"}
    no_ids = make([(5.0, "data: a\n\n"), (10.0, "data: b\n\n")], end=100.0)
    assert codes_for(no_ids, OPTS) == {"no-event-ids"}
    bad = make([(5.0, "Data: x\nid: 1\ndata: y\n\n")], end=100.0)
    assert codes_for(bad, OPTS) == {"malformed-stream"}
    cut = make([(5.0, ev(1) + "data: never terminated\n")], end=100.0, by="server")
    assert "malformed-stream" in codes_for(cut, OPTS)


def test_client_divergence_on_dataless_events_and_odd_retry() -> None:
    dataless = make([(5.0, ev(1)), (200.0, "event: ping\n\n"), (600.0, ev(2))], end=700.0)
    assert codes_for(dataless, OPTS) == {"client-divergence"}
    odd_retry = make([(5.0, "retry: +5000\n" + ev(1))], end=100.0)
    assert "client-divergence" in codes_for(odd_retry, OPTS)
    clean = make([(5.0, ev(1)), (200.0, ": ping\n"), (600.0, ev(2))], end=700.0)
    assert codes_for(clean, OPTS) == set()


@pytest.mark.parametrize("keepalive", [
    ": ping\n\n",  # sse-starlette, FastAPI: a comment and its blank line
    "\n",  # a bare blank line
    ":\n\n",  # Hono, better-sse
    "id: 7\n\n",  # an id alone
])
def test_httpx_sse_sticky_id_phantoms_are_not_divergence(keepalive: str) -> None:
    """httpx-sse 0.4 dispatches an empty event for every block without data once an id was
    seen (its bug #35); healthy servers with ids and heartbeats must not be blamed for it."""
    stream = make([(5.0, ":\nretry: 2000\n\n" + ev(1)), (200.0, keepalive),
                   (400.0, keepalive), (600.0, ev(2))], end=700.0)
    findings, _ = run_sse_checks(replay(stream, OPTS), OPTS)
    assert [f.code for f in findings] == []
    raw = (ev(1) + keepalive + ev(2)).encode()
    _, phantoms, _ = divergence._httpx_sse_read(raw)
    assert len(phantoms) == 1  # httpx-sse really does see one more (empty) event
    assert divergence.compare(raw) is None


def test_head_checks() -> None:
    err = make([], end=10.0, by="server")
    err["head"]["status"] = 401
    assert codes_for(err, OPTS) == {"http-error"}
    html = make([(6.0, "<html>login</html>")], end=10.0, by="server",
                headers=[["content-type", "text/html"]])
    assert codes_for(html, OPTS) == {"not-event-stream"}
    plain = make([(5.0, ev(1))], end=100.0, headers=[["content-type", "text/event-stream"]])
    assert codes_for(plain, OPTS) == {"missing-no-cache"}
    gz = make([(5.0, ev(1))], end=100.0, headers=SSE_HEADERS + [["content-encoding", "gzip"]])
    assert codes_for(gz, OPTS) == {"compressed-stream"}
    late = make([(1301.0, ev(1)), (1500.0, ev(2))], end=1600.0, head_ms=1300.0)
    assert codes_for(late, OPTS) == {"delayed-headers"}
    # Prompt headers, slow first event: not delayed-headers (the 'open' fired in time).
    slow_event = make([(5.0, ": ok\n"), (1300.0, ev(1))], end=1400.0)
    assert "delayed-headers" not in codes_for(slow_event, OPTS)


def test_checks_run_lists_every_evaluated_code() -> None:
    obs = replay(make([(5.0, ev(1))], end=100.0), OPTS)
    _, run = run_sse_checks(obs, OPTS)
    assert "stalled-stream" in run and "http-error" in run and "target-unreachable" not in run
    obs.unreachable = "connection refused"
    findings, run = run_sse_checks(obs, OPTS)
    assert run == ["target-unreachable"] and findings[0].code == "target-unreachable"


@pytest.mark.parametrize(("values", "compressed"), [
    (["none"], False),  # graphql-yoga's non-standard "not encoded"
    (["identity"], False),
    (["Identity"], False),  # codings are case-insensitive tokens
    ([" IDENTITY , "], False),  # list syntax: optional whitespace, empty elements
    ([""], False),
    (["GZIP"], True),
    (["identity, br"], True),
    (["identity", "gzip"], True),  # two field lines are one list
])
def test_content_encoding_is_read_as_an_http_list(values: list[str], compressed: bool) -> None:
    headers = SSE_HEADERS + [["Content-Encoding", v] for v in values]
    found = codes_for(make([(5.0, ev(1))], end=100.0, headers=headers), OPTS)
    assert ("compressed-stream" in found) is compressed


def _no_heartbeat_detail(silence_ms: float, idle_limit: float) -> str:
    opts = ProbeOptions(duration=200, idle_limit=idle_limit)
    rec = make([(5.0, ev(1)), (5.0 + silence_ms, ev(2))], end=5.0 + silence_ms + 10,
               window=200.0)
    findings, _ = run_sse_checks(replay(rec, opts), opts)
    (f,) = [f for f in findings if f.code == "no-heartbeat"]
    return f.detail


def test_no_heartbeat_speaks_of_a_60_s_proxy_only_past_60_s() -> None:
    short = _no_heartbeat_detail(40_000, 30)
    assert "40.0 s" in short and "idle limit of 30 s" in short
    assert "would have cut" not in short and "would not have cut it" in short
    assert "idle timeout under 40.0 s would" in short
    long = _no_heartbeat_detail(75_000, 30)
    assert "would have cut the connection 60 s into this 75.0 s silence" in long


# Hono's streamSSE: when the callback throws, onError runs and Hono writes an 'error' event
# with the message, then closes the stream (hono/src/helper/streaming/sse.ts).
HONO_ERROR = "event: error\ndata: database unavailable\n\n"


def test_an_error_event_in_a_200_stream_is_not_a_clean_end() -> None:
    rec = make([(5.0, ev(1)), (20.0, ev(2)), (30.0, HONO_ERROR)], end=31.0, by="server")
    findings, _ = run_sse_checks(replay(rec, OPTS), OPTS)
    assert [f.code for f in findings] == ["error-event"]  # no stream-ended "cleanly"
    (f,) = findings
    assert f.severity == "error"
    assert "1 'error' event(s) inside the HTTP 200 stream, the first at 30 ms" in f.detail
    assert "'database unavailable'" in f.detail and "right after it" in f.detail
    assert f.evidence["data_excerpt"] == "database unavailable"
    # Asked for with --expect-event error: the user expects it, no finding.
    assert "error-event" not in codes_for(rec, opts_from(["--expect-event", "error"]))
    # An ordinary clean end still is one.
    clean = make([(5.0, ev(1))], end=31.0, by="server")
    assert codes_for(clean, OPTS) == {"stream-ended"}


def test_an_llm_answer_held_back_head_and_all_is_buffered() -> None:
    """nginx with gzip on: 24 tokens, the head with them, all in one read 2.7 s after the
    request; every token gap is 0 ms. The silence before the read is the buffer's."""
    from tests.support.recordings import CHAT_BODY, DONE, ROLE, USAGE, chunk, diagnose

    body = ROLE + "".join(chunk(f" w{i}") for i in range(24)) + chunk(None, "stop") + USAGE + DONE
    for head_ms in (2700.0, 144.0):  # the head held with the body, or sent at once
        rec = {"url": "http://llm.invalid/v1/chat/completions", "body": CHAT_BODY,
               "window_s": 10.0, "head": {"t_ms": head_ms, "status": 200, "headers": SSE_HEADERS},
               "chunks": [[2700.4, body]], "end": {"by": "server", "t_ms": 2701.0}}
        result = diagnose(rec)
        assert result.profile is not None and result.profile.name == "llm"
        (f,) = [f for f in result.findings if f.code == "buffered-delivery"]
        assert f.evidence["first_byte_held"] is True and f.evidence["burst_records"] == 28
        held = "head and first 28 records together" in f.detail
        assert held is (head_ms == 2700.0)


def test_expectation_checks_run_only_when_something_was_expected() -> None:
    from sse_doctor.checks.incomplete import settle_incomplete

    obs = replay(make([(5.0, ev(1))], end=100.0), OPTS)
    _, run = run_sse_checks(obs, OPTS)
    assert "missing-expected-event" not in run and "no-server-timeout" not in run
    _, incomplete = settle_incomplete([], run, obs)  # as after Ctrl-C
    assert "missing-expected-event" not in incomplete and "no-server-timeout" not in incomplete
    expecting = opts_from(["--expect-event", "done", "--expect-close", "5"])
    _, run = run_sse_checks(replay(make([(5.0, ev(1))], end=100.0), expecting), expecting)
    assert {"missing-expected-event", "no-server-timeout"} <= set(run)
    _, incomplete = settle_incomplete([], run, obs)
    assert "missing-expected-event" in incomplete
