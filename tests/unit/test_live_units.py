"""The pure parts behind the live panel, --follow and interrupted reports, and the signal
runner with real signals."""

from __future__ import annotations

import asyncio
import os
import signal

from sse_doctor import interrupt
from sse_doctor.checks.incomplete import interrupted_experiment, settle_incomplete
from sse_doctor.checks.provisional import live_findings
from sse_doctor.model import (
    Chunk,
    Close,
    CommentRec,
    EventRec,
    ProbeOptions,
    Result,
    SseObservation,
    finding,
)
from sse_doctor.redact import Redactor
from sse_doctor.report import follow
from sse_doctor.sse.parser import Comment, Event
from sse_doctor.ws.observation import WsFrame

HEADERS = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]


def stream(*, events: list[float], comments: list[float], headers=HEADERS,  # noqa: ANN001
           status: int | None = 200) -> SseObservation:
    obs = SseObservation(url="http://x/sse", status=status, headers=list(headers),
                         headers_ms=1.0, ttfb_ms=2.0)
    for t in events:
        obs.events.append(EventRec(t, "progress", "{}", "", None, False, 2, hash("{}")))
        obs.chunks.append(Chunk(t, 10, 1))
    for t in comments:
        obs.comments.append(CommentRec(t, " ping"))
        obs.chunks.append(Chunk(t, 7, 1))
    obs.chunks.sort(key=lambda c: c.t_ms)
    obs.n_events, obs.n_comments = len(events), len(comments)
    return obs


# --- checks that an interruption leaves undecided ------------------------------------------
def test_nothing_is_decided_before_the_response_head() -> None:
    obs = stream(events=[], comments=[], status=None)
    kept, incomplete = settle_incomplete([], ["http-error", "not-event-stream"], obs)
    assert kept == [] and incomplete == ["http-error", "not-event-stream"]


def test_a_silence_already_over_the_limit_stands_an_expected_event_does_not() -> None:
    obs = stream(events=[10.0], comments=[])
    run = ["no-heartbeat", "stalled-stream", "missing-expected-event", "missing-no-cache",
           "buffered-delivery"]
    found = [finding("no-heartbeat", "silent"), finding("missing-expected-event", "none")]
    kept, incomplete = settle_incomplete(found, run, obs)
    assert [f.code for f in kept] == ["no-heartbeat"]
    assert incomplete == ["stalled-stream", "missing-expected-event"]


def test_a_profiles_codes_are_incomplete_unless_they_stand_on_a_partial_stream() -> None:
    obs = stream(events=[10.0], comments=[])
    found = [finding("http-error", "x")]
    kept, incomplete = settle_incomplete(found, ["a-terminal", "a-error"], obs,
                              profile_codes=frozenset({"a-terminal", "a-error"}),
                              profile_stands=frozenset({"a-error"}))
    assert incomplete == ["a-terminal"] and kept == found


def test_an_interrupted_experiment_keeps_only_a_refused_first_connection() -> None:
    r = Result("disconnect", "sse", "http://x", [finding("http-error", "500"),
                                                         finding("reconnect-rejected", "x")],
                       ["http-error", "reconnect-rejected", "cleanup-leak"])
    interrupted_experiment(r)
    assert [f.code for f in r.findings] == ["http-error"]
    assert r.checks_incomplete == ["reconnect-rejected", "cleanup-leak"]


# --- what the live panel can already say -----------------------------------------------------
def test_the_live_panel_decides_head_findings_and_a_silence_at_once() -> None:
    obs = stream(events=[100.0], comments=[], headers=[("content-type", "text/event-stream")])
    found = live_findings(obs, ProbeOptions(idle_limit=1.0), now_ms=2500.0)
    codes = {f.code: provisional for f, provisional in found}
    assert codes == {"missing-no-cache": False, "no-heartbeat": False}
    assert obs.close is None and obs.end_ms == 0.0  # the snapshot left the observation alone


def test_a_stall_is_provisional_until_the_stream_ended() -> None:
    obs = stream(events=[100.0, 200.0], comments=[1000.0, 2000.0, 3000.0, 4000.0])
    [(f, provisional)] = live_findings(obs, ProbeOptions(idle_limit=30.0), now_ms=4100.0)
    assert f.code == "stalled-stream" and provisional
    obs.close, obs.end_ms = Close("deadline", 4100.0), 4100.0
    [(f, provisional)] = live_findings(obs, ProbeOptions(idle_limit=30.0), now_ms=4100.0)
    assert f.code == "stalled-stream" and not provisional


def test_the_live_panel_waits_for_a_websocket_handshake() -> None:
    from sse_doctor.ws.observation import WsObservation
    from sse_doctor.ws.options import WsOptions

    assert live_findings(WsObservation(url="ws://x"), WsOptions(), now_ms=50.0) == []


# --- --follow lines and JSON Lines -------------------------------------------------------------
def test_items_as_json_lines_carry_the_reports_fields_with_secrets_masked() -> None:
    red = Redactor()
    red.add_header("Authorization", "Bearer s3cr3t-token")
    ev = follow.item_json(Event("tick", "token s3cr3t-token", "7", 3000, 12.34), red)
    assert ev == {"t_ms": 12.3, "kind": "event", "event": "tick", "data": ev["data"],
                  "id": "7", "retry": 3000}
    assert "s3cr3t-token" not in ev["data"]
    assert follow.item_json(Comment(" hb", 5.0), red) == {"t_ms": 5.0, "kind": "comment",
                                                         "text": " hb"}
    msg = follow.item_json(WsFrame(1.0, "in", "close", 4, "bye", code=1011), red)
    assert msg == {"t_ms": 1.0, "kind": "message", "dir": "in", "type": "close", "size": 4,
                   "text": "bye", "code": 1011}
    end = follow.item_json(Close("server", 9.0, None, "done"), red)
    assert end == {"t_ms": 9.0, "kind": "close", "by": "server", "code": None,
                   "reason": "done"}


def test_a_follow_line_cuts_the_data_to_the_width_unless_verbose() -> None:
    red = Redactor()
    ev = Event("tick", "x" * 500 + "\nsecond line", "42", None, 1500.0)
    line = follow.item_line(ev, 250.0, 30.0, red, width=80)
    assert line is not None and len(line.plain) <= 80 and line.plain.endswith("…")
    assert "event tick" in line.plain and "id=42" in line.plain and "+250ms" in line.plain
    whole = follow.item_line(ev, 250.0, 30.0, red, width=80, verbose=True)
    assert whole is not None and whole.plain.endswith("x\\nsecond line")


def test_a_gap_above_the_idle_limit_is_highlighted() -> None:
    red = Redactor()
    quiet = follow.item_line(Comment(" hb", 40_000.0), 31_000.0, 30.0, red)
    ok = follow.item_line(Comment(" hb", 40_000.0), 29_000.0, 30.0, red)
    assert quiet is not None and ok is not None
    assert any("reverse" in str(s.style) for s in quiet.spans)
    assert not any("reverse" in str(s.style) for s in ok.spans)
    assert "+31.0s" in quiet.plain


def test_gaps_count_per_connection_from_the_request() -> None:
    f = follow.Follower()
    a, b = object(), object()
    assert f.gap(a, Comment("", 100.0)) == 100.0
    assert f.gap(b, Comment("", 50.0)) == 50.0
    assert f.gap(a, Comment("", 350.0)) == 250.0


# --- the signal runner, with real signals ----------------------------------------------------
def test_a_signal_sets_the_stop_and_the_run_keeps_its_result(handlers) -> None:  # noqa: ANN001
    async def main(stop: interrupt.Stop) -> str:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
        assert stop.event is not None
        await stop.event.wait()
        return "what was seen"

    result, stop = interrupt.run(main)
    assert result == "what was seen"
    assert stop.signum == signal.SIGTERM and stop.exit_code == 143 and stop.name == "SIGTERM"


def test_what_ignores_the_stop_is_cancelled_after_the_grace(handlers) -> None:  # noqa: ANN001
    cancelled = []

    async def main(stop: interrupt.Stop) -> str:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "never"

    result, stop = interrupt.run(main, grace_s=0.05)
    assert result is None and cancelled == [True] and stop.exit_code == 130


def test_without_a_signal_nothing_is_interrupted(handlers) -> None:  # noqa: ANN001
    async def main(stop: interrupt.Stop) -> int:
        return 7

    result, stop = interrupt.run(main)
    assert result == 7 and not stop.interrupted
    # The loop's handlers are gone again: Ctrl-C outside a run is Python's KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


