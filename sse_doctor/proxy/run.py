"""The imperative shell of `sse-doctor proxy`: runs mitmdump with our addon in reverse-proxy
mode, reads the stream events it writes on a pipe, feeds them to the pure core
(streams.ClientStreams) and calls back for the live view, until the duration is over or the
user stops it. Every wait has a deadline; mitmdump is stopped by its PID."""

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
from sse_doctor.proxy.streams import ClientStreams, mask_secret_params, parse_client_key

ADDON = Path(__file__).resolve().parent / "addon.py"
READY_TIMEOUT_S = 60.0  # mitmdump's start (a cold one imports a lot)
UPSTREAM_CONNECT_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
TICK_S = 0.25
CHECK_EVERY_S = 1.0


class UpstreamUnreachable(Exception):
    """The upstream refused or did not answer a TCP connect at the start: exit 3."""


@dataclass
class ProxyPlan:
    listen_host: str
    listen_port: int
    upstream: str  # scheme://host[:port], no path
    client_key: str = "ip"
    duration: float | None = None


def plan(listen: str, upstream: str, client_key: str, duration: float | None) -> ProxyPlan:
    """Validated options (UsageError, one line, on anything wrong)."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {listen!r}: use HOST:PORT, e.g. 127.0.0.1:8081")
    try:
        parts = urlsplit(upstream)
        up_port = parts.port
    except ValueError as exc:
        raise UsageError(f"--upstream {upstream!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--upstream {upstream!r}: use http://HOST[:PORT] or https://... "
                         "(WebSockets to it pass through as they are)")
    if parts.path not in ("", "/") or parts.query:
        raise UsageError(f"--upstream {upstream!r}: give the server's origin only; request "
                         "paths pass through as the client sends them")
    try:
        parse_client_key(client_key)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if duration is not None and not duration > 0:
        raise UsageError("--duration must be more than 0 seconds")
    netloc = parts.hostname if up_port is None else f"{parts.hostname}:{up_port}"
    if ":" in (parts.hostname or "") and up_port is not None:
        netloc = f"[{parts.hostname}]:{up_port}"
    return ProxyPlan(host, int(port), f"{parts.scheme}://{netloc}", client_key, duration)


def check_listen(p: ProxyPlan) -> None:
    """The listen address must be free now (mitmdump would only log its failure)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in p.listen_host else socket.AF_INET) as s:
            s.bind((p.listen_host, p.listen_port))
    except OSError as exc:
        raise UsageError(f"--listen {p.listen_host}:{p.listen_port}: cannot listen there "
                         f"({exc.strerror or exc})") from None


def check_upstream(p: ProxyPlan) -> None:
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

    streams: ClientStreams = field(default_factory=ClientStreams)
    started: float = 0.0  # epoch seconds
    ended: float = 0.0
    stopped_by: str = ""  # "duration" | "interrupt" | "mitmdump exited"
    errors: list[str] = field(default_factory=list)  # mitmdump's own warnings/errors
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # at the last check


def _reader(stream, out: queue.Queue, tag: str) -> None:  # noqa: ANN001 - a text file
    try:
        for line in stream:
            out.put((tag, line))
    except (OSError, ValueError):
        pass
    out.put((tag, None))


def _wait_listening(p: ProxyPlan, proc: subprocess.Popen[str], deadline: float,
                    stop: threading.Event) -> bool:
    """True once mitmdump accepts connections; False if it exited, the time ran out or the
    user stopped us meanwhile."""
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


def run(p: ProxyPlan, mitmdump: str,
        on_tick: Callable[[ProxyRun, list[tuple[str, object]]], None] | None = None) -> ProxyRun:
    """Proxy until p.duration passes, SIGINT/SIGTERM arrives, or mitmdump exits.
    `on_tick(session, fresh)` gets each batch of new findings and notes (a few times a
    second). UsageError when mitmdump cannot start."""
    session = ProxyRun(started=time.time())
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
                                start_new_session=True)  # Ctrl-C is ours to relay
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        raise UsageError(f"cannot run {mitmdump}: {exc.strerror or exc}") from None
    os.close(write_fd)
    lines: queue.Queue = queue.Queue()
    feed = os.fdopen(read_fd, encoding="utf-8", errors="replace")
    threading.Thread(target=_reader, args=(feed, lines, "feed"), daemon=True).start()
    threading.Thread(target=_reader, args=(proc.stdout, lines, "log"), daemon=True).start()

    stop = threading.Event()
    reason = {"why": ""}

    def on_signal(signum: int, frame: object) -> None:
        reason["why"] = "interrupt"
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        ready = _wait_listening(p, proc, time.monotonic() + READY_TIMEOUT_S, stop)
        if not ready and not stop.is_set():
            if proc.poll() is None:
                raise UsageError(f"mitmdump did not listen on {p.listen_host}:"
                                 f"{p.listen_port} within {READY_TIMEOUT_S:.0f} s")
            _drain(lines, session, wait_s=2.0)
            said = session.errors[-1] if session.errors else f"exit code {proc.returncode}"
            raise UsageError(f"mitmdump did not start: {said}")
        session.started = time.time()
        end_at = None if p.duration is None else time.monotonic() + p.duration
        checked = 0.0
        while not stop.is_set():
            fresh = _drain(lines, session)
            if time.monotonic() - checked >= CHECK_EVERY_S:  # the checks cost O(n log n)
                checked = time.monotonic()
                fresh.extend(_check(session))
            if on_tick is not None:
                on_tick(session, fresh)
            if proc.poll() is not None:
                reason["why"] = reason["why"] or "mitmdump exited"
                break
            if end_at is not None and time.monotonic() >= end_at:
                reason["why"] = "duration"
                break
            stop.wait(TICK_S)
    finally:
        session.ended = time.time()
        _stop(proc)  # our handlers stay until it is stopped: a second Ctrl-C cannot orphan it
        for s, handler in old.items():
            signal.signal(s, handler)
    session.stopped_by = reason["why"]
    fresh = _drain(lines, session, wait_s=2.0, closing=True)
    fresh.extend(_check(session))
    if on_tick is not None:
        on_tick(session, fresh)
    return session


def _check(session: ProxyRun) -> list[tuple[str, object]]:
    session.findings = session.streams.findings()
    return [("finding", pf) for pf in session.streams.new_findings(session.findings)]


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
