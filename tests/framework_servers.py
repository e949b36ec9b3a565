"""The framework matrix (issue 21): real servers of the frameworks people build streams with,
each set up as its own documentation shows, under fixtures/frameworks/<name>/, and the cases
tests/test_frameworks.py probes on them: one healthy variant (the documented way, with the
heartbeat or keep-alive its docs recommend, its interval shortened to fit a 3 s window) and
broken ones (a realistic defect) per framework.

Node servers need `npm ci` in fixtures/frameworks (.ci/run does it); Python servers need the
test extra. A server is one process started here on a free 127.0.0.1 port (PORT in its
environment); it serves every variant of its framework on its own path."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
FRAMEWORKS = ROOT / "fixtures" / "frameworks"
NODE_MODULES = FRAMEWORKS / "node_modules"

# The probe window and idle limit of every case: the healthy variants' heartbeats come every
# 0.5 s (their docs' 10-30 s, shortened), so a 1.5 s idle limit has room for a busy machine.
WINDOW = ("--duration", "3", "--idle-limit", "1.5", "--timeout", "10")
WS_WINDOW = ("--duration", "3", "--timeout", "10")


@dataclass(frozen=True)
class Server:
    name: str  # its folder under fixtures/frameworks
    runtime: str  # "node" or "python"
    argv: tuple[str, ...]  # "{port}" and "{python}" are filled in
    env: dict[str, str] = field(default_factory=dict)

    def command(self, port: int) -> list[str]:
        python = sys.executable
        return [a.format(port=port, python=python) for a in self.argv]


@dataclass(frozen=True)
class Case:
    """One probe of one server route and what sse-doctor must say about it."""

    server: str
    variant: str  # "healthy" or the defect's name
    path: str  # the route; a "ws:" prefix makes the URL ws://
    args: tuple[str, ...] = WINDOW
    command: str = "probe"
    expect: tuple[str, ...] = ()  # a broken variant: the codes it must get
    # A healthy variant whose stream ends by design (an LLM answer, a completed subscription):
    # stream-ended / ws-server-closed are then the truth, not noise.
    finite: bool = False
    # False where the protocol itself has no resume (a GraphQL operation, an LLM completion,
    # a Socket.IO session): no-event-ids is then true but harmless.
    resumable: bool = True
    # sse-doctor is wrong today about this case: the exact finding and why (strict xfail).
    false_alarm: str | None = None

    @property
    def id(self) -> str:
        return f"{self.server}-{self.variant}"

    @property
    def healthy(self) -> bool:
        return not self.expect

    def url(self, port: int) -> str:
        if self.path.startswith("ws:"):
            return f"ws://127.0.0.1:{port}{self.path[3:]}"
        return f"http://127.0.0.1:{port}{self.path}"

    def argv(self, port: int) -> tuple[str, ...]:
        return (self.command, self.url(port), *self.args, "--json", "-")


# The info codes a healthy variant may get, each with the rule a senior engineer would agree
# to: the note must be true of that server and not something its team should change.
INFO_RULES: dict[str, tuple[str, Callable[[Case], bool]]] = {
    "no-event-ids": ("only where the protocol has no resume (a GraphQL operation, an LLM "
                     "completion, a Socket.IO session): a new request starts anew anyway",
                     lambda c: not c.resumable),
    "stream-ended": ("only where the stream ends by design (a completed subscription or "
                     "answer)", lambda c: c.finite),
    "ws-server-closed": ("only where the server closes by design", lambda c: c.finite),
}

# What sse-doctor says wrongly today about healthy servers (issue 21), with the root cause.
DIVERGENCE = ("client-divergence (info) on a healthy stream: httpx-sse yields an empty message "
              "event for the blank line ending each comment heartbeat once an id was set, a "
              "quirk of that client, not of this server, which already does what the advice "
              "says (comment heartbeats); the note stands in the verdict line and first under "
              "'What to do' (sse_doctor/checks/divergence.py compare/check_divergence)")
ERROR_EVENT = ("no finding for `event: error` inside a 200 stream: the stream is called "
               "healthy and 'ended cleanly' (no check reads event types for errors)")
RESUME_RESTART = ("resume compares ids only: the server ignores Last-Event-ID and restarts at "
                  "{\"n\":1} with fresh UUID ids, and resume says HEALTHY "
                  "(sse_doctor/checks/experiment_checks.py compares ids, never payloads)")

# A broken variant whose defect sse-doctor has no code for yet: any warning or error will do.
ANY_PROBLEM = "<any warning or error>"

SERVERS: list[Server] = [
    Server("node-http", "node", ("node", "node-http/server.mjs")),
    Server("express", "node", ("node", "express/server.mjs")),
    Server("hono", "node", ("node", "hono/server.mjs")),
    Server("better-sse", "node", ("node", "better-sse/server.mjs")),
    Server("sse-starlette", "python", ("{python}", "sse-starlette/app.py")),
]

CASES: list[Case] = [
    # Plain Node http, MDN's way.
    Case("node-http", "healthy", "/healthy", false_alarm=DIVERGENCE),
    Case("node-http", "no-cache", "/no-cache", expect=("missing-no-cache",)),
    Case("node-http", "crash", "/crash", expect=("premature-close",)),
    # express, hand-written SSE with the compression middleware's documented res.flush().
    Case("express", "healthy", "/healthy", false_alarm=DIVERGENCE),
    Case("express", "compressed", "/compressed", expect=("compressed-stream",)),
    # Hono streamSSE / upgradeWebSocket.
    Case("hono", "healthy", "/healthy"),
    Case("hono", "stall", "/stall", expect=("stalled-stream",)),
    Case("hono", "error-event", "/error", expect=(ANY_PROBLEM,),
         false_alarm=ERROR_EVENT),
    Case("hono", "ws-healthy", "ws:/ws", args=(*WS_WINDOW, "--send", "hello",
                                                "--expect-message", "echo: hello")),
    Case("hono", "ws-crash", "ws:/ws-crash", args=(*WS_WINDOW, "--send", "hello"),
         expect=("ws-early-close",)),
    # express + better-sse.
    Case("better-sse", "healthy", "/healthy", false_alarm=DIVERGENCE),
    Case("better-sse", "no-heartbeat", "/no-heartbeat", expect=("no-heartbeat",)),
    Case("better-sse", "resume-restarts", "/healthy", command="resume",
         args=("--after-events", "2", "--timeout", "10", "--duration", "3"),
         expect=(ANY_PROBLEM,), false_alarm=RESUME_RESTART),
    # sse-starlette.
    Case("sse-starlette", "healthy", "/healthy", false_alarm=DIVERGENCE),
    Case("sse-starlette", "no-heartbeat", "/no-heartbeat", expect=("no-heartbeat",)),
    Case("sse-starlette", "crash", "/crash", expect=("premature-close",)),
]


def node_ready() -> str | None:
    """Why the Node servers cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not NODE_MODULES.is_dir():
        return "fixtures/frameworks/node_modules is missing: run `npm ci` there (.ci/run does)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    server: Server
    port: int
    proc: subprocess.Popen[bytes]
    log: pathlib.Path

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-3000:]
        return ""


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def running(servers: list[Server], logs: pathlib.Path,
            wait_s: float = 60) -> Iterator[dict[str, Running]]:
    """Start every server at once, wait (bounded) until each listens, stop them all after.
    A server that does not start is left out, its log kept for the test that needs it."""
    started: dict[str, Running] = {}
    try:
        for server in servers:
            port = _free_port()
            log = logs / f"{server.name}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    server.command(port), cwd=FRAMEWORKS, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT,
                    env={**os.environ, **server.env, "PORT": str(port)})
            started[server.name] = Running(server, port, proc, log)
        deadline = time.monotonic() + wait_s
        waiting = dict(started)
        while waiting and time.monotonic() < deadline:
            for name, run in list(waiting.items()):
                if run.proc.poll() is not None or _listening(run.port):
                    del waiting[name]
            if waiting:
                time.sleep(0.1)  # a server offers nothing to subscribe to
        yield {name: run for name, run in started.items()
               if run.proc.poll() is None and _listening(run.port)}
    finally:
        for run in started.values():
            if run.proc.poll() is None:
                run.proc.terminate()
        for run in started.values():
            try:
                run.proc.wait(10)
            except subprocess.TimeoutExpired:
                run.proc.kill()
                run.proc.wait()


def start_failures(servers: list[Server], up: dict[str, Running],
                   logs: pathlib.Path) -> dict[str, str]:
    """The log of each server that did not come up."""
    out = {}
    for server in servers:
        if server.name not in up:
            path = logs / f"{server.name}.log"
            out[server.name] = path.read_text(errors="replace")[-3000:] if path.exists() else ""
    return out
