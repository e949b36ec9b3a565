"""The engine of `sse-doctor proxy`: runs mitmdump with our addon in reverse-proxy mode, reads
the stream events it writes on a pipe into the records (records.ClientRecords) and calls back
a few times a second, until the duration is over, the caller's `stop` is set or mitmdump
exits. It observes and records; judging is the plan's (`plan/proxy.py`), and signals are the
command line's (`plan.execute`): this runs in a thread and installs no handlers. Every wait
has a deadline; mitmdump is stopped by its PID."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sse_doctor.errors import UsageError
from sse_doctor.model import Finding
from sse_doctor.proxy.records import ClientRecords, mask_secret_params

ADDON = Path(__file__).resolve().parent / "addon.py"
READY_TIMEOUT_S = 60.0  # mitmdump's start (a cold one imports a lot)
UPSTREAM_CONNECT_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
DRAIN_S = 2.0  # the feed's last events after mitmdump stopped
TICK_S = 0.25
# the longest a run takes past its window: start, the stop (SIGTERM, then SIGKILL), the drain
OVERHEAD_S = READY_TIMEOUT_S + 2 * STOP_TIMEOUT_S + DRAIN_S


class UpstreamUnreachable(Exception):
    """The upstream refused or did not answer a TCP connect at the start: exit 3."""


@dataclass
class ProxySettings:
    """Validated proxy options (sse_doctor.plan.proxy.settings makes them)."""

    listen_host: str
    listen_port: int
    upstream: str  # scheme://host[:port], no path
    client_key: str = "ip"
    duration: float | None = None

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"


def check_listen(p: ProxySettings) -> None:
    """The listen address must be free now (mitmdump would only log its failure)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in p.listen_host else socket.AF_INET) as s:
            s.bind((p.listen_host, p.listen_port))
    except OSError as exc:
        raise UsageError(f"--listen {p.listen_host}:{p.listen_port}: cannot listen there "
                         f"({exc.strerror or exc})") from None


def check_upstream(p: ProxySettings) -> None:
    parts = urlsplit(p.upstream)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), UPSTREAM_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise UpstreamUnreachable(f"upstream {p.upstream} unreachable: {reason}") from None


@dataclass
class ProxyRun:
    """What the proxy saw, whether it ran to the end or was stopped."""

    streams: ClientRecords = field(default_factory=ClientRecords)
    started: float = 0.0  # epoch seconds
    ended: float = 0.0
    stopped_by: str = ""  # "duration" | "stop" | "mitmdump exited"; "" while it runs
    errors: list[str] = field(default_factory=list)  # mitmdump's own warnings/errors
    # what the client checks found at their last look, for the live view (the plan's)
    findings: list[tuple[str, Finding]] = field(default_factory=list)


# on_tick(session, fresh): fresh is [(kind, item)], kind "log" or "note"
OnTick = Callable[[ProxyRun, "list[tuple[str, object]]"], None]


def _reader(stream, out: queue.Queue, tag: str) -> None:  # noqa: ANN001 - a text file
    try:
        for line in stream:
            out.put((tag, line))
    except (OSError, ValueError):
        pass
    out.put((tag, None))


def _wait_listening(p: ProxySettings, proc: subprocess.Popen[str], deadline: float,
                    stop: threading.Event) -> bool:
    """True once mitmdump accepts connections; False if it exited, the time ran out or the
    caller stopped us meanwhile."""
    host = "127.0.0.1" if p.listen_host == "0.0.0.0" else \
        "::1" if p.listen_host == "::" else p.listen_host
    while time.monotonic() < deadline and not stop.is_set():
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, p.listen_port), 0.5).close()
            return True
        except OSError:
            stop.wait(0.1)  # mitmdump gives no readiness signal we can wait on
    return False


def _start(p: ProxySettings, mitmdump: str) -> tuple[subprocess.Popen[str], queue.Queue]:
    """mitmdump running with our addon, and the queue its feed and its log are read into."""
    read_fd, write_fd = os.pipe()
    cmd = [mitmdump, "--mode", f"reverse:{p.upstream}",
           "--listen-host", p.listen_host, "--listen-port", str(p.listen_port),
           "-s", str(ADDON),
           "--set", f"sse_doctor_feed={write_fd}",
           "--set", f"sse_doctor_client_key={p.client_key}",
           "--set", "termlog_verbosity=warn", "--set", "flow_detail=0",
           # connect upstream per request, not per client connection: an upstream that is
           # down gets each request a 502 and us a note naming it
           "--set", "connection_strategy=lazy"]
    try:
        proc = subprocess.Popen(cmd, pass_fds=[write_fd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                # Ctrl-C is ours to relay (after the feed's last events);
                                # the addon ends mitmdump if we die first (a second Ctrl-C)
                                start_new_session=True)
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        raise UsageError(f"cannot run {mitmdump}: {exc.strerror or exc}") from None
    os.close(write_fd)
    lines: queue.Queue = queue.Queue()
    feed = os.fdopen(read_fd, encoding="utf-8", errors="replace")
    threading.Thread(target=_reader, args=(feed, lines, "feed"), daemon=True).start()
    threading.Thread(target=_reader, args=(proc.stdout, lines, "log"), daemon=True).start()
    return proc, lines


def run(p: ProxySettings, mitmdump: str, stop: threading.Event,
        on_tick: OnTick | None = None, streams: ClientRecords | None = None) -> ProxyRun:
    """Proxy until p.duration passes, `stop` is set, or mitmdump exits; blocking (run it in
    a thread). `streams` records what passes (a fresh ClientRecords by default). `on_tick`
    gets each batch of new notes and log lines a few times a second, and once more at the
    end with `stopped_by` set. UsageError when mitmdump cannot start."""
    session = ProxyRun(streams=ClientRecords() if streams is None else streams,
                       started=time.time())
    proc, lines = _start(p, mitmdump)
    try:
        ready = _wait_listening(p, proc, time.monotonic() + READY_TIMEOUT_S, stop)
        if not ready and not stop.is_set():
            if proc.poll() is None:
                raise UsageError(f"mitmdump did not listen on {p.listen_host}:"
                                 f"{p.listen_port} within {READY_TIMEOUT_S:.0f} s")
            _drain(lines, session, wait_s=DRAIN_S)
            said = session.errors[-1] if session.errors else f"exit code {proc.returncode}"
            raise UsageError(f"mitmdump did not start: {said}")
        session.started = time.time()
        end_at = None if p.duration is None else time.monotonic() + p.duration
        why = "stop"
        while not stop.is_set():
            fresh = _drain(lines, session)
            if on_tick is not None:
                on_tick(session, fresh)
            if proc.poll() is not None:
                why = "mitmdump exited"
                break
            if end_at is not None and time.monotonic() >= end_at:
                why = "duration"
                break
            stop.wait(TICK_S if end_at is None else
                      max(0.0, min(TICK_S, end_at - time.monotonic())))
    finally:
        session.ended = time.time()
        _stop(proc)
    session.stopped_by = why
    fresh = _drain(lines, session, wait_s=DRAIN_S, closing=True)
    if on_tick is not None:
        on_tick(session, fresh)
    return session


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # by PID: mitmdump shuts down cleanly on it
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)


_TRACEBACK = ("Traceback", "File ", "handle:", "^", "raise ", "return ", "await ", "exc = ")


def _traceback_line(line: str) -> bool:
    return line[:1].isspace() or line.lstrip().startswith(_TRACEBACK)


def _drain(lines: queue.Queue, session: ProxyRun, wait_s: float = 0.0,
           closing: bool = False) -> list[tuple[str, object]]:
    """Every line read so far into the session; with wait_s, until both readers ended (the
    feed's last events after mitmdump stopped) or the time is up. While closing, streams
    that mitmdump cuts as it stops stay open in the record: they were open at the end."""
    fresh: list[tuple[str, object]] = []
    deadline = time.monotonic() + wait_s
    ended = 0
    while True:
        try:
            timeout = max(0.0, deadline - time.monotonic())
            tag, line = lines.get(timeout=timeout) if wait_s else lines.get_nowait()
        except queue.Empty:
            return fresh
        if line is None:
            ended += 1
            if wait_s and ended >= 2:
                return fresh
            continue
        if tag == "log":
            text = line.strip()
            # mitmdump's log at warn level; a traceback (mitmproxy's own, e.g. connections
            # cancelled as it shuts down) is reported by its first line only, and nothing
            # once we are stopping it
            if text and not closing and not _traceback_line(line):
                text = mask_secret_params(text)
                session.errors.append(text)
                del session.errors[:-50]
                fresh.append(("log", text))
            continue
        try:
            event = json.loads(line)
            if closing and event.get("ev") == "end" and float(event["t"]) >= session.ended:
                continue
            session.streams.feed(event)
        except (ValueError, KeyError, TypeError):
            continue  # not ours (a partial line at shutdown)
        if event.get("ev") == "note":
            fresh.append(("note", session.streams.notes[-1][1]))
        elif event.get("ev") == "end" and event.get("note"):
            rec = session.streams.records.get(str(event["id"]))
            if rec is not None:
                fresh.append(("note", f"{rec.method} {rec.path} (client {rec.client}): "
                                      f"{event['note']}"))
