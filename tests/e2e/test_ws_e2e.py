"""End to end: `sse-doctor probe ws://...` in a subprocess against the lab's WebSocket
scenarios and a few hostile raw servers. Every probe of the module starts at once (one
window, not twenty); the tests then read their results."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sse_doctor.cli import main
from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabScenario
from tests.support import cli, free_port, start_cli_together

WS_SCENARIOS = [s for s in SCENARIOS if s.protocol == "ws" and s.in_demo]
QUICK = ("--duration", "2", "--idle-limit", "2")
SECRET = "S3CRET-TOKEN-4242"
# Long enough that a probe that waited for them could not pass for one that cut them short,
# however slow a busy machine makes the probe.
STREAMING_200_S = 50  # the body of the streaming 200 instead of 101
HUGE_WINDOW_S = 50  # the window of the 100 MB message probe


# --- hostile raw servers ------------------------------------------------------------------------


class RawServer:
    """A TCP server on 127.0.0.1 whose handler gets each accepted socket (in a thread)."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(15)
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.done.set()
        self.sock.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def streaming_200(conn: socket.socket) -> None:
    """An SSE endpoint that ignores Upgrade: 200 text/event-stream, a chunk every 0.1 s."""
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    for _ in range(STREAMING_200_S * 10):
        conn.sendall(b"c\r\ndata: tick\n\n\r\n")
        time.sleep(0.1)


def never_answers(conn: socket.socket) -> None:
    """Accepts TCP, reads the handshake, says nothing."""
    while conn.recv(4096):
        pass



@pytest.fixture(scope="module")
def raw_servers() -> Iterator[dict[str, RawServer]]:
    servers = {"streaming-200": RawServer(streaming_200), "silent": RawServer(never_answers)}
    yield servers
    for s in servers.values():
        s.close()


# --- every probe of the module, started together ------------------------------------------------


class Run:
    def __init__(self, proc: subprocess.Popen[str], started: float) -> None:
        self.proc = proc
        self.started = started
        self._out: tuple[str, str] | None = None
        self.elapsed = 0.0

    def result(self) -> tuple[str, str, int]:
        if self._out is None:
            self._out = self.proc.communicate(timeout=90)
            self.elapsed = time.monotonic() - self.started
        out, err = self._out
        assert "Traceback" not in err, err
        return out, err, self.proc.returncode

    def report(self) -> dict[str, Any]:
        out, err, _ = self.result()
        return json.loads(out)


def file_report(run: Run, name: str) -> dict[str, Any]:
    run.result()
    return json.loads((run.files / name).read_text())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def runs(lab, raw_servers, tmp_path_factory) -> dict[str, Run]:
    ws = lab.base_url.replace("http://", "ws://")
    tmp = tmp_path_factory.mktemp("ws")
    params = tmp / "params.json"
    params.write_text('{"prompt": "hello", "language": "python"}\n')
    junit = tmp / "junit.xml"
    plan: dict[str, tuple[str, ...]] = {
        s.name: (ws + s.path, *DEMO_ARGS, *s.probe_args, "--json", "-") for s in WS_SCENARIOS}
    plan["generate-code"] = (*plan["generate-code"][:-2], "--json", str(tmp / "incident.json"),
                             "--junit", str(junit))  # and the terminal report on stdout
    plan["no-pong"] = (*plan["no-pong"][:-2], "--json", str(tmp / "no-pong.json"), "-v")
    plan.update({
        "sse-route": (ws + "/sse/healthy", *QUICK, "--json", "-"),
        "streaming-200": (raw_servers["streaming-200"].url("/events"), *QUICK, "--json", "-"),
        "silent-tcp": (raw_servers["silent"].url(), *QUICK, "--timeout", "1", "--json", "-"),
        "unreachable": (f"ws://127.0.0.1:{free_port()}/ws", "--timeout", "2", "--json", "-"),
        "tls-failure": (lab.base_url.replace("http://", "wss://") + "/ws/healthy-echo",
                        "--timeout", "2", "--json", "-"),
        "huge-100mb": (ws + "/ws/huge-message?size=100000000", "--max-message-size", "1000000",
                       "--duration", str(HUGE_WINDOW_S), "--json", "-"),
        "options": (ws + "/ws/healthy-echo", *QUICK, "--max-events", "3", "--subprotocol",
                    "chat.v1", "--subprotocol", "chat.v0", "--bearer", SECRET, "--send",
                    f"token={SECRET}", "--json", "-"),
        "params-file": (ws + "/ws/generate-code", *QUICK, "--send", f"@{params}",
                        "--expect-message", "completed", "--json", "-"),
    })
    # Warm first, then all at once: no process start-up inside another probe's window.
    procs = start_cli_together({name: ("probe", *args) for name, args in plan.items()})
    started = time.monotonic()
    out = {name: Run(proc, started) for name, proc in procs.items()}
    out["generate-code"].files = tmp  # type: ignore[attr-defined]
    out["no-pong"].files = tmp  # type: ignore[attr-defined]
    return out


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def finding(report: dict[str, Any], code: str) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["code"] == code)


# --- every lab scenario gets exactly its diagnosis ------------------------------------------------


@pytest.mark.parametrize("scenario", WS_SCENARIOS, ids=lambda s: s.name)
def test_probe_finds_exactly_the_scenario_diagnosis(runs, scenario: LabScenario) -> None:
    run = runs[scenario.name]
    files = {"generate-code": "incident.json", "no-pong": "no-pong.json"}
    report = file_report(run, files[scenario.name]) if scenario.name in files else run.report()
    assert codes(report) == set(scenario.expect)
    _, _, rc = runs[scenario.name].result()
    assert rc == (1 if any(f["severity"] == "error" for f in report["findings"]) else 0)
    assert report["target"]["protocol"] == "ws"
    assert "messages" in report and "close" in report
    close = report["close"]
    assert set(close) == {"by", "t_ms", "code", "reason"}
    if report["connection"]["status"] != 101:  # a refused handshake: the server ended it
        assert close["by"] == "server" and close["code"] is None
        assert close["reason"].startswith("the server refused the WebSocket handshake: HTTP ")
        assert close["t_ms"] == report["connection"]["headers_ms"]


def test_healthy_socket_report(runs) -> None:
    report = runs["healthy-echo"].report()
    assert report["verdict"] == "healthy"
    conn = report["connection"]
    assert conn["status"] == 101 and conn["extensions"] == ["permessage-deflate"]
    assert conn["headers_ms"] <= conn["ttfb_ms"] <= conn["first_event_ms"]
    first_out = next(m for m in report["messages"] if m["dir"] == "out")
    assert first_out == {"t_ms": first_out["t_ms"], "dir": "out", "type": "text", "size": 18,
                         "text": '{"prompt":"hello"}'}
    assert any(m["type"] == "pong" and m["dir"] == "in" for m in report["messages"])
    stats = report["stats"]
    assert stats["pings_sent"] >= 2 and stats["pongs_received"] == stats["pings_sent"]
    assert stats["ping_rtt_ms"]["max"] is not None
    assert stats["messages_in"] >= 10 and stats["message_rate_per_s"] > 1
    assert report["close"]["by"] == "deadline" and report["close"]["code"] == 1000


def test_incident_report_says_which_step_failed(runs) -> None:
    report = file_report(runs["generate-code"], "incident.json")
    early = finding(report, "ws-early-close")
    assert early["evidence"]["after_message"] == 1
    assert "1011" in early["detail"] and "after your message #1" in early["detail"]
    assert report["close"]["by"] == "server" and report["close"]["code"] == 1011
    assert "KeyError" in report["close"]["reason"]
    assert report["connection"]["close_frame_received"] is True
    kinds = [(m["dir"], m["type"]) for m in report["messages"]]
    assert kinds[:2] == [("out", "text"), ("in", "close")]


def test_tcp_drop_has_no_close_frame(runs) -> None:
    report = runs["drop-after-first"].report()
    assert report["close"]["by"] == "transport" and report["close"]["code"] == 1006
    assert report["connection"]["close_frame_received"] is False
    assert report["connection"]["tcp_end"] == "reset"


# --- bad input and hostile servers ----------------------------------------------------------------


def test_ws_url_on_an_sse_route_is_a_failed_handshake(runs) -> None:
    report = runs["sse-route"].report()
    assert codes(report) == {"ws-handshake-failed"}
    assert report["connection"]["status"] == 403  # Starlette: no WebSocket route here


def test_streaming_200_instead_of_101_is_cut_and_reported(runs) -> None:
    report = runs["streaming-200"].report()
    assert codes(report) == {"ws-handshake-failed"}
    f = finding(report, "ws-handshake-failed")
    assert f["evidence"]["status"] == 200 and "Server-Sent Events" in f["detail"]
    assert "data: tick" in f["evidence"]["body_excerpt"]
    assert report["duration_s"] < STREAMING_200_S / 2  # cut, not read to its end


def test_a_server_that_never_answers_is_unreachable(runs) -> None:
    report = runs["silent-tcp"].report()
    assert codes(report) == {"target-unreachable"}
    assert report["close"]["by"] == "transport" and report["close"]["code"] is None
    assert "no answer to the opening handshake" in report["close"]["reason"]
    assert "no answer to the opening handshake within 1 s" in report["findings"][0]["detail"]
    assert runs["silent-tcp"].result()[2] == 3


def test_closed_port_exits_3(runs) -> None:
    report = runs["unreachable"].report()
    assert codes(report) == {"target-unreachable"}
    assert "refused" in report["findings"][0]["detail"]
    assert runs["unreachable"].result()[2] == 3


def test_tls_failure_exits_3(runs) -> None:
    report = runs["tls-failure"].report()
    assert codes(report) == {"target-unreachable"}
    assert "TLS" in report["findings"][0]["detail"]
    assert runs["tls-failure"].result()[2] == 3


def test_100_mb_message_is_capped(runs) -> None:
    report = runs["huge-100mb"].report()
    assert codes(report) == {"ws-abnormal-close"}
    f = finding(report, "ws-abnormal-close")
    assert f["evidence"]["max_message_size"] == 1_000_000
    assert "--max-message-size" in f["detail"]
    assert report["close"]["by"] == "client" and report["close"]["code"] == 1009
    assert report["stats"]["bytes_in"] == 0  # the message was never buffered
    assert report["duration_s"] < HUGE_WINDOW_S / 2  # ended at the message, not the window


def test_probe_options_max_events_subprotocol_and_secrets(runs) -> None:
    out, _, rc = runs["options"].result()
    assert rc == 0 and SECRET not in out
    report = json.loads(out)
    assert codes(report) == set()
    assert report["stats"]["messages_in"] == 3
    assert report["close"]["by"] == "client" and report["close"]["code"] == 1000
    conn = report["connection"]
    assert conn["subprotocol"] == "chat.v1"
    assert conn["offered_subprotocols"] == ["chat.v1", "chat.v0"]
    sent = next(m for m in report["messages"] if m["dir"] == "out")
    assert sent["text"] == "token=[REDACTED]"


def test_params_file_makes_the_incident_handler_work(runs) -> None:
    report = runs["params-file"].report()
    assert codes(report) == {"ws-server-closed"}  # it finished its job and said goodbye
    assert report["verdict"] == "healthy"
    assert report["close"]["by"] == "server" and report["close"]["code"] == 1000
    note = finding(report, "ws-server-closed")
    assert note["evidence"]["after_message"] == 1 and note["evidence"]["messages_received"] == 3
    assert any("completed" in (m["text"] or "") for m in report["messages"])


def test_terminal_timeline_reads_like_the_incident_log(runs) -> None:
    out, _, rc = runs["generate-code"].result()
    assert rc == 1
    assert out.index("ERROR") < out.index("What to do") < out.index("Steps")
    failing = [line for line in out.splitlines() if line.lstrip().startswith("✗")]
    assert len(failing) == 1 and "1011" in failing[0] and "← close" in failing[0]
    for step in ("connect", "→ handshake", "← handshake", "→ text #1"):
        assert step in out
    suite = ET.parse(runs["generate-code"].files / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert {"ws-handshake-failed", "ws-early-close", "ws-abnormal-close",
            "ws-no-keepalive"} <= set(cases)
    assert cases["ws-early-close"].find("failure") is not None
    assert cases["ws-no-keepalive"].find("failure") is None


def test_verbose_shows_every_step(runs) -> None:
    out, _, _ = runs["no-pong"].result()
    assert "more steps" not in out
    assert out.count("→ ping") >= 5


# --- usage errors (no connection is made) --------------------------------------------------------


@pytest.mark.parametrize("args,words", [
    (("ftp://127.0.0.1/ws",), "unsupported URL"),
    (("ws://127.0.0.1:9/ws", "--expect-event", "done"), "--expect-message"),
    (("ws://127.0.0.1:9/ws", "--expect-close", "2"), "--expect-close"),
    (("ws://127.0.0.1:9/ws", "-d", "x"), "--send"),
    (("ws://127.0.0.1:9/ws", "-X", "POST"), "GET"),
    (("ws://127.0.0.1:9/ws", "--send", "@/nonexistent/params.json"), "cannot read --send"),
    (("ws://127.0.0.1:9/ws", "--max-message-size", "0"), "--max-message-size"),
    (("ws://127.0.0.1:9/ws", "--subprotocol", "a b"), "--subprotocol"),
    (("ws://127.0.0.1:9/ws", "--ping-interval", "0"), "--ping-interval"),
])
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], words: str, capsys) -> None:
    # The CLI's entry point in-process: these fail before any connection, and a subprocess
    # each would only add interpreter start-ups.
    assert main(["probe", *args]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err


def test_bad_input_through_the_real_command_line() -> None:
    proc = cli("probe", "ws://127.0.0.1:9/ws", "--expect-event", "done")
    assert proc.returncode == 2 and "--expect-message" in proc.stderr
