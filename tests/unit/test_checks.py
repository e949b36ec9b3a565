"""The pure checks, from recordings in fixtures/recordings (made from the lab) and from
small hand-built recordings for the edge cases each detector must get right."""

from __future__ import annotations

import json
import pathlib
import random

import pytest

from sse_doctor.checks.plan import run_sse_checks
from sse_doctor.model import ProbeOptions
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.scenarios.replay import replay

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "recordings"
SSE_HEADERS = [["content-type", "text/event-stream"], ["cache-control", "no-cache"]]


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


def make(chunks: list[tuple[float, str]], *, end: float, by: str = "deadline",
         head_ms: float = 5.0, headers: list | None = None, window: float = 10.0) -> dict:
    return {"window_s": window,
            "head": {"t_ms": head_ms, "status": 200, "headers": headers or SSE_HEADERS},
            "chunks": [[t, text] for t, text in chunks], "end": {"by": by, "t_ms": end}}


def ev(i: int, kind: str = "tick") -> str:
    return f"id: {i}\nevent: {kind}\ndata: {{\"n\": {i}}}\n\n"


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


def test_a_fast_stream_coalesced_by_tcp_is_not_buffered() -> None:
    # Many events per read, but no silence before them: the reader was simply busy.
    chunks = [(5.0 + i * 2, ev(3 * i) + ev(3 * i + 1) + ev(3 * i + 2)) for i in range(100)]
    assert "buffered-delivery" not in codes_for(make(chunks, end=300.0), OPTS)


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


def test_client_divergence_on_blank_line_heartbeats_and_odd_retry() -> None:
    blank = make([(5.0, ev(1)), (200.0, "\n"), (400.0, "\n"), (600.0, ev(2))], end=700.0)
    assert codes_for(blank, OPTS) == {"client-divergence"}
    odd_retry = make([(5.0, "retry: +5000\n" + ev(1))], end=100.0)
    assert "client-divergence" in codes_for(odd_retry, OPTS)
    clean = make([(5.0, ev(1)), (200.0, ": ping\n"), (600.0, ev(2))], end=700.0)
    assert codes_for(clean, OPTS) == set()


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
