"""The live panel, `probe --follow` and Ctrl-C/SIGTERM, run as a person on call runs them: in
a real pseudo-terminal (pexpect: the terminal's own Ctrl-C, a real window size) and in pipes,
against the lab. Every wait is on output or on the lab's connection count, never on time."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pexpect
import pytest

from sse_doctor.lab import LabServer
from tests.support import cli, interrupt_once_streaming, start_cli

WAIT = 60  # the longest any expected output may take on a busy machine


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Term:
    """The real CLI in a pseudo-terminal (stdout and stderr both on it), read as a person
    reads it: `expect` matches the text without its colours and cursor movements."""

    def __init__(self, *args: str, cols: int = 120) -> None:
        self.child = pexpect.spawn(sys.executable, ["-m", "sse_doctor", *args],
                                   encoding="utf-8", timeout=WAIT, dimensions=(40, cols),
                                   env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin"})
        self.raw = ""
        self.pos = 0

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def expect(self, pattern: str, raw: bool = False) -> re.Match[str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + WAIT
        while True:
            found = rx.search(self.raw if raw else self.text, 0 if raw else self.pos)
            if found:
                if not raw:
                    self.pos = found.end()
                return found
            assert time.monotonic() < deadline, f"no {pattern!r} in {self.text[-2000:]!r}"
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=1)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                raise AssertionError(f"exited before {pattern!r}: {self.text[-3000:]!r}") \
                    from None

    def finish(self) -> str:
        """Everything after the last match, once the command exited."""
        self.child.expect(pexpect.EOF)
        self.raw += self.child.before or ""
        self.child.close()
        return self.text[self.pos:]

    @property
    def exitstatus(self) -> int | None:
        return self.child.exitstatus


def wait_closed(server: LabServer) -> None:
    deadline = time.monotonic() + 10
    while server.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)  # the lab offers nothing to wait on but its count
    assert server.active_requests == 0


def wait_open(server: LabServer) -> None:
    deadline = time.monotonic() + WAIT
    while server.active_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.active_requests >= 1


# --- the live panel ----------------------------------------------------------------------
def test_the_live_panel_shows_the_stream_and_ctrl_c_keeps_the_evidence() -> None:
    with LabServer() as server:
        child = Term("probe", server.url("/sse/healthy"), "--duration", "60")
        child.expect("observing")
        child.expect(r"\d+ events \(")
        child.expect("last event")
        child.expect("silence now")
        child.expect("idle limit 30 s")
        # Ctrl-C at a random moment of the stream: the moment is what this test varies.
        time.sleep(random.uniform(0.0, 1.0))
        child.child.sendintr()  # the terminal's own Ctrl-C: SIGINT to the foreground group
        out = child.finish()
        assert child.exitstatus == 130, out
        assert "Traceback" not in out
        assert "interrupted (SIGINT)" in out and "every connection was closed" in out
        assert "Incomplete (interrupted" in out and "no-heartbeat" in out
        assert re.search(r"ended +by client at [0-9.]+ m?s \(interrupted \(SIGINT\)\)", out)
        wait_closed(server)


def test_the_live_panel_shows_a_provisional_stall_and_sigterm_ends_it() -> None:
    with LabServer() as server:
        child = Term("probe", server.url("/sse/stalled"), "--duration", "60",
                      "--idle-limit", "30")
        child.expect("stalled-stream")
        child.expect("provisional")
        child.child.kill(signal.SIGTERM)
        out = child.finish()
        assert child.exitstatus == 143, out
        assert "interrupted (SIGTERM)" in out and "Traceback" not in out
        # The stall was seen, so the final report keeps it.
        assert "stalled-stream" in out
        wait_closed(server)


def test_the_live_panel_shows_a_websocket_and_its_close() -> None:
    with LabServer() as server:
        child = Term("probe", server.url("/ws/healthy-echo").replace("http", "ws", 1),
                      "--send", '{"prompt":"hello"}', "--duration", "60")
        child.expect("handshake")
        child.expect("101")
        child.expect(r"\d+ in \(")
        child.expect("last message")
        child.child.setwinsize(30, 50)  # a resized terminal: the panel redraws narrower
        child.expect("last")
        child.child.sendintr()
        out = child.finish()
        assert child.exitstatus == 130, out
        assert "interrupted (SIGINT)" in out and "Traceback" not in out
        wait_closed(server)


def test_the_live_panel_shows_a_server_close_of_a_websocket(lab) -> None:  # noqa: ANN001
    child = Term("probe", lab.url("/ws/generate-code").replace("http", "ws", 1),
                  "--send", '{"prompt":"hello"}', "--duration", "10")
    out = child.finish()
    assert child.exitstatus == 1, out
    assert "ws-early-close" in out and "1011" in out


def test_nothing_live_when_stderr_is_not_a_terminal(lab) -> None:  # noqa: ANN001
    proc = cli("probe", lab.url("/sse/healthy"), "--duration", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "\x1b" not in proc.stdout  # no colour, no cursor movement either


@pytest.mark.parametrize("flag", [("-q",), ("--json", "-")])
def test_nothing_live_with_quiet_or_json_on_stdout(lab, flag) -> None:  # noqa: ANN001
    child = Term("probe", lab.url("/sse/healthy"), "--duration", "1.5", *flag)
    out = child.finish()
    assert child.exitstatus == 0, out
    assert "observing" not in out and "silence now" not in out


# --- probe --follow ----------------------------------------------------------------------
def test_follow_in_a_terminal_prints_each_item_then_the_report(lab) -> None:  # noqa: ANN001
    child = Term("probe", lab.url("/sse/healthy"), "--follow", "--duration", "2", cols=80)
    child.expect(r"ms +\+\d+ms +event tick +id=1 +\{")
    child.expect("comment  : heartbeat")
    child.expect("closed by deadline")
    out = child.finish()
    assert child.exitstatus == 0, out
    assert "HEALTHY" in out
    lines = [line for line in child.text.splitlines() if "event tick" in line]
    assert lines and all(len(line) <= 80 for line in lines)  # cut to the terminal's width


def test_follow_verbose_shows_the_data_whole(lab) -> None:  # noqa: ANN001
    child = Term("probe", lab.url("/sse/healthy"), "-f", "-v", "--max-events", "2", cols=40)
    child.expect(r"event tick +id=1 +\{\"counter\": 1, \"timestamp\": [0-9.]+\}")
    child.finish()
    assert child.exitstatus == 0


def test_follow_highlights_a_gap_above_the_idle_limit(lab) -> None:  # noqa: ANN001
    # /sse/no-heartbeat is silent for 3 s at a time; the idle limit here is 1 s.
    child = Term("probe", lab.url("/sse/no-heartbeat"), "-f", "--idle-limit", "1",
                  "--max-events", "2")  # one silence is enough
    child.expect(r"\x1b\[[0-9;]*7[0-9;]*m +\+\d\.\ds", raw=True)  # reverse video on the gap
    out = child.finish()
    assert child.exitstatus == 1, out


def test_follow_ctrl_c_ends_an_unlimited_window() -> None:
    with LabServer() as server:
        child = Term("probe", server.url("/sse/healthy"), "--follow")
        n = random.randint(1, 6)  # a random moment: after n events
        child.expect(rf"event tick +id={n} ")
        child.child.sendintr()
        child.expect("closed by client +interrupted \\(SIGINT\\)")
        out = child.finish()
        assert child.exitstatus == 130, out
        assert "Traceback" not in out and "interrupted (SIGINT)" in out
        wait_closed(server)


def test_follow_a_websocket(lab) -> None:  # noqa: ANN001
    child = Term("probe", lab.url("/ws/healthy-echo").replace("http", "ws", 1),
                  "--send", '{"prompt":"hello"}', "--ping-interval", "0.5", "-f",
                  "--duration", "2")
    child.expect(r"→ text \(18 B\) +\{\"prompt\":\"hello\"\}")
    child.expect("← text")
    child.expect("→ ping")
    child.expect("← pong")
    child.expect("→ close +1000")
    child.expect("closed by deadline")
    child.finish()
    assert child.exitstatus == 0


def test_follow_json_lines_stream_and_end_with_the_report() -> None:
    with LabServer() as server:
        proc = start_cli("probe", server.url("/sse/healthy"), "--follow", "--json", "-")
        first = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        # The first line is there while the (unlimited) window is still open.
        assert proc.poll() is None
        assert first["kind"] in ("retry", "event") and isinstance(first["t_ms"], float)
        event = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        while event["kind"] != "event":
            event = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert set(event) == {"t_ms", "kind", "event", "data", "id", "retry"}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 143, err
        assert "Traceback" not in err
        lines = [json.loads(line) for line in out.splitlines()]  # every line is JSON
        *items, report = lines
        assert all("kind" in i for i in items)
        assert items[-1]["kind"] == "close" and items[-1]["by"] == "client"
        assert report["schema"] == "sse-doctor/report@1" and report["interrupted"] is True
        assert "no-heartbeat" in report["checks_incomplete"]
        assert report["stats"]["events"] >= 1
        wait_closed(server)


def test_follow_json_lines_of_a_websocket(lab) -> None:  # noqa: ANN001
    proc = cli("probe", lab.url("/ws/healthy-echo").replace("http", "ws", 1), "--send", "hi",
               "-f", "--json", "-", "--duration", "1")
    assert proc.returncode == 0, proc.stderr
    *items, report = [json.loads(line) for line in proc.stdout.splitlines()]
    sent = next(i for i in items if i["kind"] == "message" and i["dir"] == "out")
    assert sent == {"t_ms": sent["t_ms"], "kind": "message", "dir": "out", "type": "text",
                    "size": 2, "text": "hi"}
    assert items[-1]["kind"] == "close" and items[-1]["by"] == "deadline"
    assert "interrupted" not in report


def test_follow_with_quiet_is_a_usage_error(lab) -> None:  # noqa: ANN001
    proc = cli("probe", lab.url("/sse/healthy"), "--follow", "-q")
    assert proc.returncode == 2
    assert proc.stderr.startswith("sse-doctor: error: --follow") and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("json_lines", [False, True])
def test_follow_into_a_closed_pipe_exits_quietly_and_closes_the_stream(json_lines) -> None:  # noqa: ANN001
    with LabServer() as server:
        args = ["--json", "-"] if json_lines else []
        proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", "probe",
                                 server.url("/sse/healthy"), "--follow", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()  # as `| head -1` does: one line, then gone
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=WAIT) == 0, err
        assert err == ""
        wait_closed(server)


# --- Ctrl-C / SIGTERM: every report asked for ----------------------------------------------
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_every_report_from_what_was_observed(tmp_path, sig, code) -> None:  # noqa: ANN001
    with LabServer() as server:
        paths = {k: tmp_path / f"r.{k}" for k in ("json", "xml", "html")}
        proc = start_cli("probe", server.url("/sse/healthy"), "--expect-event", "done",
                         "--json", str(paths["json"]), "--junit", str(paths["xml"]),
                         "--html", str(paths["html"]))
        out, err = interrupt_once_streaming(proc, server, sig=sig)
        assert proc.returncode == code, err
        assert "Traceback" not in err and f"interrupted ({sig.name})" in err
        report = json.loads(paths["json"].read_text())
        assert report["interrupted"] is True
        assert report["close"]["by"] == "client"
        assert report["close"]["reason"] == f"interrupted ({sig.name})"
        # Not arrived yet is not missing: the check is incomplete, not failed.
        assert "missing-expected-event" in report["checks_incomplete"]
        assert all(f["code"] != "missing-expected-event" for f in report["findings"])
        root = ET.parse(paths["xml"]).getroot()
        skipped = {c.get("name") for c in root.iter("testcase") if c.find("skipped") is not None}
        assert skipped == set(report["checks_incomplete"])
        assert int(root.get("skipped")) == len(skipped)
        html = paths["html"].read_text()
        assert "Interrupted</strong>" in html and "missing-expected-event" in html
        assert "Incomplete" in out


def test_sigterm_in_a_websocket_probe_closes_with_a_close_frame(tmp_path) -> None:  # noqa: ANN001
    with LabServer() as server:
        proc = start_cli("probe", server.url("/ws/healthy-echo").replace("http", "ws", 1),
                         "--json", "-")
        out, err = interrupt_once_streaming(proc, server, sig=signal.SIGTERM)
        assert proc.returncode == 143, err
        report = json.loads(out)
        assert report["interrupted"] is True
        assert report["close"] == {"by": "client", "t_ms": report["close"]["t_ms"],
                                   "code": 1000, "reason": "sse-doctor: interrupted (SIGTERM)"}
        assert "ws-no-keepalive" in report["checks_incomplete"]


def test_sigterm_in_an_experiment_exits_143() -> None:
    with LabServer() as server:
        proc = start_cli("disconnect", server.url("/sse/healthy"), "--after", "30",
                         "--json", "-")
        out, err = interrupt_once_streaming(proc, server, sig=signal.SIGTERM)
        assert proc.returncode == 143, err
        report = json.loads(out)
        assert report["interrupted"] is True
        [s] = report["scenarios"]
        assert s["experiment"]["interrupted"] is True
        assert s["findings"] == [] and s["checks_incomplete"] == ["reconnect-rejected"]


def test_sigterm_in_a_suite_exits_143(tmp_path) -> None:  # noqa: ANN001
    with LabServer() as server:
        suite = tmp_path / "s.toml"
        suite.write_text(f'name = "t"\n[[check]]\nname = "long"\n'
                         f'url = "{server.url("/sse/healthy")}"\nduration = 30\n')
        proc = start_cli("run", str(suite), "--json", "-")
        out, err = interrupt_once_streaming(proc, server, sig=signal.SIGTERM)
        assert proc.returncode == 143, err
        assert json.loads(out)["suite"]["interrupted"] is True


def test_a_second_ctrl_c_exits_at_once() -> None:
    with LabServer() as server:
        proc = start_cli("probe", server.url("/sse/healthy"), "--follow")
        wait_open(server)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        # Whichever the second signal met (the probe closing, or the report being written),
        # the exit is 130 and never a traceback.
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        wait_closed(server)


def test_a_closed_terminal_ends_the_probe_and_its_connection(tmp_path) -> None:  # noqa: ANN001
    with LabServer() as server:
        report = tmp_path / "r.json"
        child = Term("probe", server.url("/sse/healthy"), "--json", str(report))
        child.expect("last event")
        # The window goes away: the kernel hangs the terminal up (SIGHUP to the probe).
        child.child.ptyproc.fileobj.close()
        assert child.child.ptyproc.wait() == 128 + signal.SIGHUP
        wait_closed(server)
        # What was observed is still written where it was asked to be.
        data = json.loads(report.read_text())
        assert data["interrupted"] is True and data["close"]["reason"] == "interrupted (SIGHUP)"


def test_ctrl_c_during_a_checkups_probe_reports_the_stream_it_watched() -> None:
    with LabServer() as server:
        proc = start_cli("checkup", server.url("/sse/healthy"), "--duration", "60",
                         "--json", "-")
        out, err = interrupt_once_streaming(proc, server)
        assert proc.returncode == 130, err
        report = json.loads(out)
        assert report["interrupted"] is True
        [probe] = report["scenarios"]
        assert probe["name"] == "probe"
        assert probe["close"] == {"by": "client", "t_ms": probe["close"]["t_ms"], "code": None,
                                  "reason": "interrupted"}
        assert probe["findings"] == [] and probe["checks_incomplete"]


@pytest.mark.parametrize("run", range(3))
def test_ctrl_c_at_any_moment_of_a_probe_keeps_what_was_seen(run) -> None:  # noqa: ANN001
    # /sse/delayed-headers holds its head back 1.15 s: a random moment in the first 2 s
    # falls before the head (the request is abandoned) or during the stream.
    with LabServer() as server:
        proc = start_cli("probe", server.url("/sse/delayed-headers"), "--json", "-")
        wait_open(server)
        time.sleep(random.uniform(0.0, 2.0))  # the moment is what this test varies
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        report = json.loads(out)
        assert report["interrupted"] is True and report["close"]["by"] == "client"
        if report["connection"]["status"] is None:  # before the head
            assert report["close"]["reason"] == "interrupted (SIGINT) before the response head"
            assert report["findings"] == [] and report["checks_incomplete"]
        else:
            assert report["close"]["reason"] == "interrupted (SIGINT)"
        wait_closed(server)


@pytest.mark.parametrize("scheme,what", [("http", "response head"),
                                         ("ws", "opening handshake finished")])
def test_ctrl_c_while_the_server_holds_its_answer_abandons_the_request(scheme, what) -> None:  # noqa: ANN001
    # A server that accepts the connection and never answers: the probe waits up to
    # --timeout 60 for the head; Ctrl-C must not wait that long, and must close the socket.
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(WAIT)
        port = listener.getsockname()[1]
        proc = start_cli("probe", f"{scheme}://127.0.0.1:{port}/stream", "--timeout", "60",
                         "--json", "-")
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(WAIT)
            assert conn.recv(65536).startswith(b"GET /stream")  # the request was sent
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=WAIT)
            assert conn.recv(65536) == b""  # and its connection closed
        assert proc.returncode == 130, err
        report = json.loads(out)
        assert report["close"]["reason"] == f"interrupted (SIGINT) before the {what}"
        assert report["findings"] == [] and report["checks_incomplete"]
