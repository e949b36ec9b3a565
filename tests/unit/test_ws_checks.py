"""WebSocket checks without a network: lab recordings from fixtures/ws (re-record with
`python tests/support/make_ws_recordings.py`) and hand-built frame sequences for the edge cases."""

from __future__ import annotations

import json
import pathlib
from datetime import datetime, timezone
from typing import Any

import pytest
from rich.console import Console

from sse_doctor.checks.ws_checks import EARLY_CLOSE_MS, run_ws_checks
from sse_doctor.errors import UsageError
from sse_doctor.lab import SCENARIOS
from sse_doctor.model import Close, ProbeOptions, Result
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.redact import Redactor
from sse_doctor.report import views
from sse_doctor.ws import closecodes
from sse_doctor.ws.observation import PingRec, WsFrame, WsObservation
from sse_doctor.ws.options import WsOptions, pong_deadline_s
from sse_doctor.ws.recorder import dechunk, parse_head, payload_text
from sse_doctor.ws.render import build_steps, render
from tests.support.make_ws_recordings import load

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "ws"


RECORDINGS = sorted(FIXTURES.glob("*.json"))
# the plain WebSocket scenarios (the GraphQL profile's are tested in test_graphql_profile.py)
WS_SCENARIOS = {s.name: s for s in SCENARIOS if s.protocol == "ws" and s.in_demo
                and "--profile" not in s.probe_args}


def ws_options(*args: str) -> WsOptions:
    _, _, ws_opts = plan_probe(probe_values(["ws://lab.invalid/x", *args]))
    assert isinstance(ws_opts, WsOptions)
    return ws_opts


def codes_of(obs: WsObservation, opts: WsOptions) -> set[str]:
    return {f.code for f in run_ws_checks(obs, opts)[0]}


# --- recordings --------------------------------------------------------------------------------


def test_every_demo_scenario_has_a_recording() -> None:
    assert {p.stem for p in RECORDINGS} == set(WS_SCENARIOS)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recording_gets_exactly_the_scenario_diagnosis(path: pathlib.Path) -> None:
    raw, obs = load(path)
    opts = ws_options(*raw["probe_args"])
    findings, checks_run = run_ws_checks(obs, opts)
    assert {f.code for f in findings} == set(raw["expect"])
    assert set(raw["expect"]) == set(WS_SCENARIOS[raw["name"]].expect)
    assert {f.code for f in findings} <= set(checks_run)
    for f in findings:
        json.dumps(f.to_json())  # evidence is JSON-serializable


def test_recording_round_trips() -> None:
    raw, obs = load(FIXTURES / "healthy-echo.json")
    assert WsObservation.from_dict(obs.to_dict()).to_dict() == obs.to_dict()


def test_incident_recording_says_which_step_failed() -> None:
    raw, obs = load(FIXTURES / "generate-code.json")
    findings = {f.code: f for f in run_ws_checks(obs, ws_options(*raw["probe_args"]))[0]}
    early = findings["ws-early-close"]
    assert "1011" in early.detail and "after your message #1" in early.detail
    assert '{"prompt":"hello"}' in early.detail
    assert early.evidence["after_message"] == 1
    assert early.evidence["ms_after_message"] < EARLY_CLOSE_MS
    abnormal = findings["ws-abnormal-close"]
    assert "internal error" in abnormal.detail and "KeyError" in abnormal.detail


def test_pong_timeout_recording_counts_unanswered_pings() -> None:
    raw, obs = load(FIXTURES / "no-pong.json")
    (f,) = run_ws_checks(obs, ws_options(*raw["probe_args"]))[0]
    assert f.evidence["answered"] == 0 and f.evidence["late"] >= 3
    assert obs.n_messages_in > 0  # the connection was alive: only control frames went missing


# --- hand-built sequences -----------------------------------------------------------------------


def opened(frames: list[WsFrame] | None = None, close: Close | None = None,
           **kw: Any) -> WsObservation:
    obs = WsObservation(url="ws://x.invalid/ws", status=101, reason_phrase="Switching Protocols",
                        headers_ms=2.0, connect_ms=1.0, window_s=4.0, end_ms=4000.0, **kw)
    for f in frames or []:
        obs.frames.append(f)
        (obs.n_in if f.dir == "in" else obs.n_out)[f.type] += 1
        if f.dir == "in" and f.type != "pong":
            obs.last_in_ms = f.t_ms
        if f.dir == "in" and f.is_data:
            obs.bytes_in += f.size
    obs.close = close or Close("deadline", 4000.0, 1000, "sse-doctor: observation window over")
    obs.close_frame_received = obs.close.by != "transport"
    obs.close_frame_sent = obs.close.by != "transport"
    return obs


def ticks(start: float, end: float, every: float) -> list[WsFrame]:
    out, t = [], start
    while t < end:
        out.append(WsFrame(t, "in", "text", 20, '{"type":"progress"}'))
        t += every
    return out


DEFAULT = WsOptions(duration=4, idle_limit=2)


def test_healthy_sequence_has_no_findings() -> None:
    obs = opened([WsFrame(3, "out", "text", 5, "hello"), *ticks(5, 4000, 250)])
    assert codes_of(obs, DEFAULT) == set()


def test_clean_close_right_after_open_without_anything_is_early_only() -> None:
    obs = opened(close=Close("server", 6.0, 1000, ""))
    findings = run_ws_checks(obs, DEFAULT)[0]
    assert [f.code for f in findings] == ["ws-early-close"]
    assert "before you sent anything" in findings[0].detail
    assert "--send" in findings[0].detail


def test_answer_then_normal_close_is_a_finished_exchange() -> None:
    frames = [WsFrame(3, "out", "text", 5, "query"), WsFrame(9, "in", "text", 40, "answer")]
    obs = opened(frames, Close("server", 10.0, 1000, "done"))
    (f,) = run_ws_checks(obs, DEFAULT)[0]
    assert f.code == "ws-server-closed" and f.severity == "info"
    assert "7 ms after your message #1 (text 5 B 'query')" in f.detail
    assert '1000 (normal closure) "done"' in f.detail and "sent 1 message(s)" in f.detail
    assert f.evidence["after_message"] == 1 and f.evidence["messages_received"] == 1


def test_answer_then_error_close_is_still_early_and_abnormal() -> None:
    frames = [WsFrame(3, "out", "text", 5, "query"),
              WsFrame(8, "in", "text", 20, '{"type":"started"}')]
    obs = opened(frames, Close("server", 12.0, 1011, "boom"))
    findings = {f.code: f for f in run_ws_checks(obs, DEFAULT)[0]}
    assert set(findings) == {"ws-early-close", "ws-abnormal-close"}
    assert "it had sent 1 message(s) since your first" in findings["ws-early-close"].detail


def test_close_after_the_second_message_names_that_message() -> None:
    frames = [WsFrame(3, "out", "text", 5, "first"), WsFrame(4, "out", "text", 6, "second")]
    obs = opened(frames, Close("server", 7.0, 1011, ""))
    early = run_ws_checks(obs, DEFAULT)[0][0]
    assert "after your message #2 (text 6 B 'second')" in early.detail
    assert "after your first" in early.detail


def test_late_1011_is_abnormal_only() -> None:
    obs = opened([WsFrame(3, "out", "text", 5, "hi"), *ticks(5, 3000, 250)],
                 Close("server", 3000.0, 1011, "db gone"))
    findings = run_ws_checks(obs, DEFAULT)[0]
    assert [f.code for f in findings] == ["ws-abnormal-close"]
    assert "db gone" in findings[0].detail


@pytest.mark.parametrize("code,words", [
    (1012, "restarting"), (1013, "overloaded"), (1014, "gateway"), (4001, "application"),
    (1008, "policy"), (3000, "library"),
])
def test_abnormal_codes_are_explained_in_words(code: int, words: str) -> None:
    obs = opened(ticks(5, 3000, 250), Close("server", 3000.0, code, "why"))
    (f,) = run_ws_checks(obs, DEFAULT)[0]
    assert f.code == "ws-abnormal-close" and words in f.detail and '"why"' in f.detail
    assert f.evidence["close_code"] == code


@pytest.mark.parametrize("code", [1000, 1001, 1005])
def test_normal_codes_late_are_a_note_only(code: int) -> None:
    obs = opened(ticks(5, 3000, 250), Close("server", 3000.0, code, ""))
    (f,) = run_ws_checks(obs, DEFAULT)[0]
    assert f.code == "ws-server-closed" and f.evidence["close_code"] == code
    assert "at 3.0 s" in f.detail and "after the handshake (you sent nothing)" in f.detail
    assert f.evidence["after_message"] is None and f.evidence["ms_after_open"] == 2998.0


def test_server_closed_names_the_last_message_sent_before_the_close() -> None:
    frames = [WsFrame(3, "out", "text", 2, "40"), *ticks(5, 2000, 250),
              WsFrame(2500, "out", "text", 3, "42x"), WsFrame(5000, "out", "text", 1, "z")]
    obs = opened(frames, Close("server", 4000.0, 1000, ""))
    (f,) = run_ws_checks(obs, WsOptions(duration=8, idle_limit=5))[0]
    assert f.code == "ws-server-closed"
    assert "1.5 s after your message #2 (text 3 B '42x')" in f.detail
    assert f.evidence["after_message"] == 2 and f.evidence["ms_after_message"] == 1500.0


@pytest.mark.parametrize("close", [
    Close("deadline", 4000.0, 1000, "sse-doctor: observation window over"),
    Close("client", 1000.0, 1000, "sse-doctor: --max-events reached"),
    Close("server", 3000.0, 1011, "boom"),
    Close("transport", 3000.0, 1006, "reset"),
])
def test_only_a_normal_close_by_the_server_is_ws_server_closed(close: Close) -> None:
    obs = opened(ticks(5, 3000, 250), close, tcp_end="reset" if close.by == "transport" else None)
    assert "ws-server-closed" not in codes_of(obs, DEFAULT)


def test_tcp_drop_is_1006_with_the_transport_detail() -> None:
    obs = opened(ticks(5, 3000, 250), Close("transport", 3000.0, 1006, "reset"),
                 tcp_end="reset", tcp_end_ms=3000.0)
    (f,) = run_ws_checks(obs, DEFAULT)[0]
    assert f.code == "ws-abnormal-close" and "RST" in f.detail and "1006" in f.detail
    assert f.evidence["close_frame_received"] is False


def test_client_failure_for_oversize_is_abnormal_not_early() -> None:
    obs = opened([], Close("client", 30.0, 1009, "frame exceeds limit of 1048576 bytes"),
                 oversize="frame exceeds limit of 1048576 bytes", max_message_size=1 << 20)
    findings = run_ws_checks(obs, DEFAULT)[0]
    assert [f.code for f in findings] == ["ws-abnormal-close"]
    assert "--max-message-size (1.0 MiB)" in findings[0].detail


def test_silence_counts_server_frames_but_not_pongs() -> None:
    frames = [WsFrame(500.0 * i, "in", "pong", 4, f"p{i}") for i in range(1, 8)]
    obs = opened(frames)
    findings = run_ws_checks(obs, DEFAULT)[0]
    assert [f.code for f in findings] == ["ws-no-keepalive"]
    assert "pongs to our pings do not count" in findings[0].detail
    # a server ping every second is a keepalive
    obs = opened([WsFrame(1000.0 * i, "in", "ping", 4, "k") for i in range(1, 4)])
    assert codes_of(obs, DEFAULT) == set()


def test_silence_before_a_tcp_drop_is_reported_too() -> None:
    obs = opened([], Close("transport", 3500.0, 1006, ""), tcp_end="fin", tcp_end_ms=3500.0)
    assert codes_of(obs, DEFAULT) == {"ws-no-keepalive", "ws-abnormal-close"}


def pinged(pings: list[PingRec], deadline_ms: float = 1000.0) -> WsObservation:
    obs = opened(ticks(5, 4000, 250), pong_deadline_ms=deadline_ms, ping_interval_s=0.5)
    obs.pings = pings
    return obs


PINGING = WsOptions(duration=4, idle_limit=2, ping_interval=0.5)


def test_pong_deadline_judges_only_pings_whose_deadline_passed() -> None:
    obs = pinged([PingRec(500, "a", 501), PingRec(3500, "b", None)])
    assert codes_of(obs, PINGING) == set()  # "b" could still have been answered
    obs = pinged([PingRec(500, "a", 501), PingRec(2500, "b", None)])
    (f,) = run_ws_checks(obs, PINGING)[0]
    assert f.code == "ws-pong-timeout" and f.evidence["late"] == 1 and f.evidence["answered"] == 1


def test_a_late_pong_is_a_timeout() -> None:
    obs = pinged([PingRec(500, "a", 1800)])
    assert codes_of(obs, PINGING) == {"ws-pong-timeout"}


def test_pong_deadline_is_bounded_by_interval_and_timeout() -> None:
    assert pong_deadline_s(0.05, 10) == 1.0
    assert pong_deadline_s(5, 10) == 5
    assert pong_deadline_s(30, 10) == 10


def test_missing_expected_message() -> None:
    opts = WsOptions(duration=4, idle_limit=2, expect_messages=("completed", "progress"))
    obs = opened(ticks(5, 4000, 250), expect_hits={"progress": 5.0, "completed": None})
    (f,) = run_ws_checks(obs, opts)[0]
    assert f.code == "ws-missing-expected-message" and f.evidence["missing"] == ["completed"]
    _, checks = run_ws_checks(obs, opts)
    assert "ws-missing-expected-message" in checks and "ws-pong-timeout" not in checks


def test_unreachable_is_the_only_finding() -> None:
    obs = WsObservation(url="ws://127.0.0.1:1/", unreachable="connection refused: ...")
    findings, checks = run_ws_checks(obs, DEFAULT)
    assert [f.code for f in findings] == ["target-unreachable"]
    assert checks == ["target-unreachable"]


@pytest.mark.parametrize("status,ctype,body,words", [
    (200, "text/event-stream", b"data: x\n\n", "Server-Sent Events"),
    (200, "text/html", b"<html>", "does not pass the Upgrade"),
    (404, "text/plain", b"Not Found", "No WebSocket route"),
    (401, "text/plain", b"", "--bearer"),
    (426, "text/plain", b"", "wss://"),
    (502, "text/html", b"Bad Gateway", "proxy failed"),
])
def test_handshake_failure_explains_the_status(status: int, ctype: str, body: bytes,
                                               words: str) -> None:
    obs = WsObservation(url="ws://x.invalid/", status=status, reason_phrase="R",
                        headers=[("Content-Type", ctype)], body_excerpt=body,
                        handshake_error=f"HTTP {status} R instead of 101 Switching Protocols")
    findings, checks = run_ws_checks(obs, DEFAULT)
    assert [f.code for f in findings] == ["ws-handshake-failed"] and checks == [
        "ws-handshake-failed"]
    assert words in findings[0].detail
    assert findings[0].evidence["status"] == status


def test_uvicorn_without_a_websocket_library_is_told_apart_from_a_missing_route() -> None:
    """What uvicorn 0.55 really answers an upgrade with (recorded by hand): without websockets
    or wsproto, a plain HTTP 404 with its server header, on the route and off it alike; with
    them, a missing route is a 403 from the WebSocket side, with no server header."""
    no_lib = WsObservation(url="ws://x.invalid/ws", status=404, reason_phrase="Not Found",
                           headers=[("date", "Mon, 07 Dec 2026 15:31:40 GMT"),
                                    ("server", "uvicorn"), ("content-length", "9"),
                                    ("content-type", "text/plain; charset=utf-8")],
                           body_excerpt=b"Not Found",
                           handshake_error="HTTP 404 Not Found instead of 101 Switching "
                                           "Protocols")
    (f,) = run_ws_checks(no_lib, DEFAULT)[0]
    assert "cannot upgrade to WebSocket at all" in f.detail and "uvicorn[standard]" in f.detail
    assert "No WebSocket route" not in f.detail and f.evidence["websocket_support"] is False
    no_route = WsObservation(url="ws://x.invalid/nope", status=403, reason_phrase="Forbidden",
                             headers=[("Date", "Mon, 07 Dec 2026 15:32:00 GMT"),
                                      ("Connection", "close"), ("Content-Length", "0")],
                             handshake_error="HTTP 403 Forbidden instead of 101 Switching "
                                             "Protocols")
    (g,) = run_ws_checks(no_route, DEFAULT)[0]
    assert "no WebSocket route matches" in g.detail and "websocket_support" not in g.evidence


# --- close codes, recorder helpers --------------------------------------------------------------


def test_close_code_words() -> None:
    assert closecodes.describe(1011).startswith("1011 (internal error: ")
    assert closecodes.is_abnormal(1006) and closecodes.is_abnormal(4000)
    assert not any(closecodes.is_abnormal(c) for c in (1000, 1001, 1005, None))
    assert closecodes.name(4999) == "application code"


def test_parse_head_and_dechunk() -> None:
    raw = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n7\r\ndata: x\r\n5\r\n\n\nda")
    status, reason, version, headers, body = parse_head(raw)  # type: ignore[misc]
    assert (status, reason, version) == (200, "OK", "HTTP/1.1")
    assert ("Content-Type", "text/event-stream") in headers
    assert body == b"data: x\n\nda"
    assert parse_head(b"HTTP/1.1 200 OK\r\nX: y\r\n") is None  # head not complete
    assert parse_head(b"\x15\x03\x01\x00\x02\r\n\r\n") is None  # not HTTP
    assert dechunk(b"zz\r\n") == b""


def test_payload_text() -> None:
    assert payload_text(b"sse-doctor ping 1") == "sse-doctor ping 1"
    assert payload_text(b"\x00\xff") == "0x00ff"


def test_options_refuse_what_does_not_apply() -> None:
    with pytest.raises(UsageError, match="--expect-message"):
        WsOptions.from_cli(ProbeOptions(expect_events=("done",)), send=[], expect_message=[],
                           ping_interval=None, subprotocols=[], origin=None,
                           max_message_size=10)
    with pytest.raises(UsageError, match="--max-message-size"):
        ws_options("--max-message-size", "0")
    with pytest.raises(UsageError, match="--subprotocol"):
        ws_options("--subprotocol", "two words")
    with pytest.raises(UsageError, match="cannot read --send file"):
        ws_options("--send", "@/nonexistent/params.json")
    assert ws_options("--send", "a", "--send", "b").send == (b"a", b"b")


# --- report parts -------------------------------------------------------------------------------


def test_json_parts_follow_the_schema() -> None:
    raw, obs = load(FIXTURES / "healthy-echo.json")
    parts = views.json_parts(obs, 5, Redactor())
    assert set(parts) == {"connection", "stats", "events", "comments", "messages", "close"}
    assert parts["events"] == [] and parts["comments"] == []
    assert len(parts["messages"]) == 5
    for m in parts["messages"]:
        assert {"t_ms", "dir", "type", "size", "text"} <= set(m)
        assert m["dir"] in ("in", "out") and m["type"] in ("text", "binary", "ping", "pong",
                                                           "close")
    assert set(parts["close"]) == {"by", "t_ms", "code", "reason"}
    assert parts["close"]["by"] == "deadline"
    stats = parts["stats"]
    assert stats["messages_in"] == obs.n_messages_in > 5  # stats count everything
    assert set(stats["ping_rtt_ms"]) == {"p50", "p95", "max"}
    assert stats["ping_rtt_ms"]["max"] is not None and stats["message_rate_per_s"] > 0
    assert parts["connection"]["status"] == 101
    assert parts["connection"]["extensions"] == ["permessage-deflate"]


def _rendered(obs: WsObservation, opts: WsOptions, verbose: bool = False) -> str:
    findings, checks = run_ws_checks(obs, opts)
    result = Result("probe", "ws", obs.url, findings, checks, obs, opts)
    console = Console(record=True, width=140)
    render(obs, console, Redactor(), verbose, result)
    return console.export_text()


def test_timeline_marks_the_failing_step() -> None:
    raw, obs = load(FIXTURES / "generate-code.json")
    text = _rendered(obs, ws_options(*raw["probe_args"]))
    failing = [line for line in text.splitlines() if line.lstrip().startswith("✗")]
    assert len(failing) == 1
    assert "← close" in failing[0] and "1011 internal error" in failing[0]
    assert "after your message #1" in failing[0]
    for step in ("connect", "→ handshake", "← handshake", "→ text #1", "tcp"):
        assert step in text


def test_timeline_is_compact_unless_verbose() -> None:
    raw, obs = load(FIXTURES / "no-pong.json")
    opts = ws_options(*raw["probe_args"])
    compact = _rendered(obs, opts)
    assert "more steps (-v shows them all)" in compact
    assert "✗" in compact and "no pong" in compact
    full = _rendered(obs, opts, verbose=True)
    assert "more steps" not in full
    assert len(full.splitlines()) > len(compact.splitlines())


def test_timeline_for_unreachable_and_refused() -> None:
    obs = WsObservation(url="ws://127.0.0.1:1/", unreachable="connection refused: x")
    steps = build_steps(obs, Redactor(), {"target-unreachable"})
    assert steps[-1].failing and "refused" in steps[-1].detail
    raw, obs = load(FIXTURES / "reject-origin.json")
    text = _rendered(obs, ws_options(*raw["probe_args"]))
    assert "403 Forbidden" in text and "origin not allowed" in text


@pytest.mark.parametrize("name", ["reject-origin", "no-upgrade"])
def test_a_refused_handshake_still_has_a_close_object_in_every_view(name: str) -> None:
    from sse_doctor.model import Report
    from sse_doctor.report import html, junit

    raw, obs = load(FIXTURES / f"{name}.json")
    opts = ws_options(*raw["probe_args"])
    close = views.json_parts(obs, 100, Redactor())["close"]
    assert close["by"] == "server" and close["code"] is None
    assert close["t_ms"] == round(obs.headers_ms, 1)
    assert close["reason"] == ("the server refused the WebSocket handshake: "
                               + obs.handshake_error)
    text = _rendered(obs, opts)
    assert "by the server at" in text and "handshake was refused" in text
    findings, checks = run_ws_checks(obs, opts)
    result = Result(name="probe", protocol="ws", url=obs.url, findings=findings,
                    checks_run=checks, observation=obs, options=opts)
    report = Report(command="probe", url=obs.url, protocol="ws",
                    started_at=datetime.now(timezone.utc), duration_s=0.1, results=[result])
    page = html.render(report, Redactor())
    assert "closed by the server at" in page and "refused the WebSocket handshake" in page
    xml = junit.render(report, "error", Redactor())
    assert f"HTTP {obs.status}" in xml and "instead of 101" in xml


def test_our_echo_of_a_close_without_a_status_code_is_recorded_not_raised() -> None:
    """A server's close frame without a status code (socket.io's server-side disconnect) is
    echoed empty; websockets records that echo as 1005, a code it refuses to serialize."""
    from types import SimpleNamespace

    from websockets.frames import Close as WsClose

    from sse_doctor.ws.recorder import WsRecorder

    obs = WsObservation(url="ws://x/", started_at=datetime.now(timezone.utc), window_s=1.0)
    rec = WsRecorder(obs, keep=10)
    rec.conn = SimpleNamespace(protocol=SimpleNamespace(close_sent=WsClose(1005, ""),
                                                        parser_exc=None))
    rec.sync_close_sent(rec.t_attempt + 0.01)
    [frame] = [f for f in obs.frames if f.type == "close"]
    assert frame.dir == "out" and frame.code == 1005 and frame.size == 0
