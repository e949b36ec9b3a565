"""The framework matrix (issue 21): real servers of the frameworks people build streams with,
each set up as its own documentation shows, under fixtures/frameworks/<name>/, and the cases
tests/e2e/test_frameworks.py probes on them: one healthy variant (the documented way, with the
heartbeat or keep-alive its docs recommend, its interval shortened to fit a 3 s window) and
broken ones (a realistic defect) per framework.

Node servers need `npm ci` in fixtures/frameworks (.ci/run does it); Python servers need the
test extra. A server is one process started here on a free 127.0.0.1 port (PORT in its
environment); it serves every variant of its framework on its own path."""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]
FRAMEWORKS = ROOT / "fixtures" / "frameworks"
NODE_MODULES = FRAMEWORKS / "node_modules"

# The probe window and idle limit of every case: the healthy variants' heartbeats come every
# 0.5 s (their docs' 10-30 s, shortened), so a 1.5 s idle limit has room for a busy machine.
WINDOW = ("--duration", "3", "--idle-limit", "1.5", "--timeout", "10")
WS_WINDOW = ("--duration", "3", "--timeout", "10")


@dataclass(frozen=True)
class Server:
    name: str  # as tests and docs/frameworks.md name it
    runtime: str  # "node", "python" or "litellm" (its own venv)
    argv: tuple[str, ...]  # "{port}" and "{python}" are filled in
    folder: str = ""  # its sources under fixtures/frameworks, when not its name
    cwd: str = ""  # where it runs, under fixtures/frameworks (WSGI servers import from there)
    env: dict[str, str] = field(default_factory=dict)
    start_s: float = 60  # how long it may take to listen (LiteLLM's proxy takes ~20 s)

    @property
    def source(self) -> pathlib.Path:
        return FRAMEWORKS / (self.folder or self.name)

    def command(self, port: int) -> list[str]:
        python, litellm = sys.executable, str(litellm_bin())
        return [a.format(port=port, python=python, litellm=litellm) for a in self.argv]


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
    # What sse-doctor must not say about this case (a regular expression), and why it would be
    # wrong (test_findings_say_only_what_was_measured fails when a report says it).
    wrong_words: tuple[str, str] | None = None
    # sse-doctor prints a traceback on stderr for this case today, in some runs: where and why
    # (an xfail of test_no_traceback, not strict: it depends on timing).
    traceback: str | None = None

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
    "duplicate-streams-allowed": ("only from an experiment that opens several streams with one "
                                  "identity (duplicates, checkup) under the default --policy "
                                  "allow: true of every framework out of the box, and allowing "
                                  "it is the team's choice (--policy single makes it an error)",
                                  lambda c: c.command in ("duplicates", "checkup")),
}

# What sse-doctor says wrongly today about healthy servers (issue 21), with the root cause.
DIVERGENCE = ("client-divergence (info) on a healthy stream: httpx-sse yields an empty message "
              "event for the blank line ending each comment heartbeat once an id was set, a "
              "quirk of that client, not of this server, which already does what the advice "
              "says (comment heartbeats); the note stands in the verdict line and first under "
              "'What to do' (sse_doctor/checks/divergence.py compare/check_divergence; its "
              "advice in sse_doctor/checks/registry.py)")
ERROR_EVENT = ("no finding for `event: error` inside a 200 stream: the stream is called "
               "healthy and 'ended cleanly' (no check reads event types for errors)")
RESUME_RESTART = ("resume compares ids only: the server ignores Last-Event-ID and restarts at "
                  "{\"n\":1} with fresh UUID ids, and resume says HEALTHY "
                  "(sse_doctor/checks/experiment_checks.py compares ids, never payloads)")

# A broken variant whose defect sse-doctor has no code for yet: any warning or error will do.
ANY_PROBLEM = "<any warning or error>"

NO_WS_LIBRARY = ("ws-handshake-failed says 'No WebSocket route at this path: check the URL' "
                 "about a route that exists: uvicorn without a WebSocket library (here --ws "
                 "none; the same when neither websockets nor wsproto is installed) logs "
                 "'Unsupported upgrade request' and hands the upgrade to the app as plain HTTP, "
                 "where Starlette's router matches no HTTP route and answers 404. A 404 to an "
                 "Upgrade can also mean a server that cannot upgrade at all "
                 "(sse_doctor/checks/ws_checks.py _STATUS_HINTS[404], used by _status_hint)")
SIXTY_SECONDS = ("no-heartbeat says 'A proxy with a 60 s idle timeout would have cut it' "
                 "about a 3 s silence, which such a proxy would not cut: the sentence is fixed "
                 "text, not built from the measured silence "
                 "(sse_doctor/checks/timing_checks.py check_no_heartbeat)")
CONTENT_ENCODING_NONE = ("compressed-stream 'The stream is compressed' on graphql-yoga's "
                         "`Content-Encoding: none`: not a registered coding, nothing is "
                         "compressed (the body is plain text); only an empty value and "
                         "`identity` count as uncompressed today "
                         "(sse_doctor/checks/http_checks.py check_compression)")
ERRORS_ONLY = ("a `next` whose payload holds only `errors` (the resolver threw before any "
               "result) is stepped 'first result: ok' and counted as a result ('after 1 "
               "result(s)'): sse_doctor/profiles/graphql/protocol.py result() counts every next "
               "payload, data or not, and profiles/graphql/__init__.py result() steps the first "
               "one 'ok'")
MIXED_UNITS = ("units: a close 2 ms after our message is written 'at 0.002 s' in "
               "ws-abnormal-close while ws-early-close beside it says '0 ms after your message' "
               "(sse_doctor/checks/ws_checks.py check_abnormal_close: "
               "f'at {close.t_ms / 1000:.3f} s' whatever the size)")
DISCONNECT_SEND = ("`disconnect` refuses --send ('No such option: --send', exit 2), so a WebSocket "
                   "server that speaks only after a message cannot be tested (the experiment "
                   "commands do not take the probe's request options: sse_doctor/options.py)")
W = WINDOW
RESUME = ("--after-events", "2", "--timeout", "10", "--duration", "3")
CHECKUP = ("--duration", "2", "--idle-limit", "1.5", "--cycles", "5", "--grace", "1",
           "--timeout", "10")
MATRIX_KEY = "sk-matrix-" + secrets.token_hex(16)
CHAT = ("-X", "POST", "--bearer", MATRIX_KEY, "-d")
# stalled-stream needs 2 s without data after the last event, with the connection alive.
STALL = ("--duration", "4", "--idle-limit", "1.5", "--timeout", "10")
WSW = WS_WINDOW
SEND = ("--send", "hello", "--expect-message", "echo: hello")
SIO = ("--send", 'subscribe {"room":"orders"}', "--expect-message", "subscribed")
GQL = ("--profile", "graphql")
COUNT = ("--query", "subscription { count }")
BOOM = ("--query", "subscription { boom }")
GUNICORN = ("{python}", "-m", "gunicorn", "--no-control-socket", "-b", "127.0.0.1:{port}")

SERVERS: list[Server] = [
    # Node
    Server("node-http", "node", ("node", "node-http/server.mjs")),
    Server("express", "node", ("node", "express/server.mjs")),
    Server("hono", "node", ("node", "hono/server.mjs")),
    Server("better-sse", "node", ("node", "better-sse/server.mjs")),
    Server("fastify", "node", ("node", "fastify/server.mjs")),
    Server("ws", "node", ("node", "ws/server.mjs")),
    Server("socket.io", "node", ("node", "socket.io/server.mjs")),
    Server("graphql-yoga", "node", ("node", "graphql-yoga/server.mjs")),
    Server("graphql-ws", "node", ("node", "graphql-ws/server.mjs")),
    # Python
    Server("sse-starlette", "python", ("{python}", "sse-starlette/app.py")),
    Server("fastapi", "python", ("{python}", "fastapi/app.py")),
    Server("starlette", "python", ("{python}", "starlette/app.py")),
    Server("starlette-no-ws-library", "python", ("{python}", "starlette/app.py", "--ws-none"),
           folder="starlette"),
    Server("django", "python", ("{python}", "django/app.py")),
    Server("flask-gunicorn", "python", (*GUNICORN, "-k", "gthread", "--threads", "8", "app:app"),
           folder="flask-streaming", cwd="flask-streaming"),
    # gunicorn's default worker (sync) with its --timeout scaled from 30 s to 1 s: the arbiter
    # kills a worker that streams longer than that.
    Server("flask-gunicorn-sync", "python", (*GUNICORN, "--timeout", "1", "app:app"),
           folder="flask-streaming", cwd="flask-streaming"),
    Server("flask-waitress", "python",
           ("{python}", "-m", "waitress", "--listen=127.0.0.1:{port}", "app:app"),
           folder="flask-streaming", cwd="flask-streaming"),
    Server("quart", "python", ("{python}", "-m", "hypercorn", "--bind", "127.0.0.1:{port}",
                               "app:app"), cwd="quart"),
    Server("aiohttp", "python", ("{python}", "aiohttp/app.py")),
    Server("python-socketio", "python", ("{python}", "python-socketio/app.py")),
    Server("strawberry", "python", ("{python}", "strawberry/app.py")),
    # LiteLLM's proxy refuses to start without a master key that is not publicly known: one
    # made for this run (loopback only).
    Server("litellm", "litellm", ("{litellm}", "--config", "config.yaml", "--host", "127.0.0.1",
                                  "--port", "{port}"), cwd="litellm", start_s=180,
           env={"LITELLM_MASTER_KEY": MATRIX_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}),
]

CASES: list[Case] = [
    # Plain Node http, MDN's way.
    Case("node-http", "healthy", "/healthy"),
    Case("node-http", "no-cache", "/no-cache", expect=("missing-no-cache",)),
    Case("node-http", "crash", "/crash", expect=("premature-close",)),
    # express, hand-written SSE; the compression middleware with its documented res.flush().
    Case("express", "healthy", "/healthy"),
    Case("express", "compressed", "/compressed", expect=("compressed-stream",)),
    Case("express", "compressed-no-flush", "/compressed-no-flush",
         args=("--duration", "3", "--idle-limit", "1.5", "--timeout", "2"),
         expect=("target-unreachable",)),
    # Hono streamSSE / upgradeWebSocket.
    Case("hono", "healthy", "/healthy"),
    Case("hono", "checkup-ignores-last-event-id", "/healthy", command="checkup", args=CHECKUP,
         expect=("resume-replay",)),
    Case("hono", "stall", "/stall", args=STALL, expect=("stalled-stream",)),
    Case("hono", "error-event", "/error", expect=("error-event",)),
    Case("hono", "ws-healthy", "ws:/ws", args=(*WSW, *SEND)),
    Case("hono", "ws-crash", "ws:/ws-crash", args=(*WSW, "--send", "hello"),
         expect=("ws-early-close", "ws-abnormal-close")),
    # express + better-sse.
    Case("better-sse", "healthy", "/healthy"),
    Case("better-sse", "no-heartbeat", "/no-heartbeat", expect=("no-heartbeat",),
         wrong_words=("60 s idle timeout would have cut", SIXTY_SECONDS)),
    Case("better-sse", "resume-restarts", "/healthy", command="resume", args=RESUME,
         expect=(ANY_PROBLEM,)),
    # Fastify + @fastify/sse.
    Case("fastify", "healthy", "/healthy"),
    Case("fastify", "no-heartbeat", "/no-heartbeat", expect=("no-heartbeat",)),
    Case("fastify", "checkup", "/resumable", command="checkup", args=CHECKUP),
    Case("fastify", "resume-replay", "/resumable", command="resume", args=RESUME),
    Case("fastify", "resume-restarts", "/healthy", command="resume", args=RESUME,
         expect=("resume-replay",)),
    # ws.
    Case("ws", "healthy", "ws:/healthy", args=(*WSW, "--idle-limit", "1.5", *SEND)),
    Case("ws", "checkup", "ws:/healthy", command="checkup", args=CHECKUP),
    Case("ws", "disconnect-after-message", "ws:/healthy", command="disconnect",
         args=("--send", "hello", "--after-events", "1", "--grace", "1", "--timeout", "10")),
    Case("ws", "no-heartbeat", "ws:/no-heartbeat", args=(*WSW, "--idle-limit", "1.5", *SEND),
         expect=("ws-no-keepalive",)),
    Case("ws", "crash", "ws:/crash", args=(*WSW, "--send", "hello"),
         expect=("ws-early-close", "ws-abnormal-close"),
         wrong_words=(r"at \d+\.\d{3} s", MIXED_UNITS)),
    # socket.io (Node), through the socketio profile (detected from the path).
    Case("socket.io", "healthy", "/socket.io/", args=(*WSW, *SIO), resumable=False),
    Case("socket.io", "namespace-refused", "/socket.io/", args=(*WSW, "--namespace", "/admin"),
         expect=("socketio-namespace-rejected",)),
    Case("socket.io", "server-disconnect", "/socket.io/", args=(*WSW, "--namespace", "/kick"),
         expect=("socketio-server-disconnect",)),
    # graphql-yoga: subscriptions over SSE (graphql-sse distinct connections).
    Case("graphql-yoga", "healthy", "/graphql", args=(*W, *GQL, *COUNT), finite=True,
         resumable=False),
    Case("graphql-yoga", "resolver-error", "/graphql", args=(*W, *GQL, *BOOM),
         expect=("graphql-operation-error",)),
    Case("graphql-yoga", "errors-only", "/graphql",
         args=(*W, *GQL, "--query", "subscription { fail }"),
         expect=("graphql-operation-error",), wrong_words=("first result: ok", ERRORS_ONLY)),
    # graphql-ws on ws.
    Case("graphql-ws", "healthy", "ws:/graphql", args=(*WSW, *GQL, *COUNT), finite=True,
         resumable=False),
    Case("graphql-ws", "resolver-error", "ws:/graphql", args=(*WSW, *GQL, *BOOM),
         expect=("graphql-operation-error",)),
    # sse-starlette.
    Case("sse-starlette", "healthy", "/healthy"),
    Case("sse-starlette", "no-heartbeat", "/no-heartbeat", expect=("no-heartbeat",),
         wrong_words=("60 s idle timeout would have cut", SIXTY_SECONDS)),
    Case("sse-starlette", "crash", "/crash", expect=("premature-close",)),
    # FastAPI.
    Case("fastapi", "healthy", "/healthy"),
    Case("fastapi", "streaming-response", "/streaming-response", expect=("missing-no-cache",)),
    # Starlette WebSocket under uvicorn.
    Case("starlette", "ws-healthy", "ws:/ws", args=(*WSW, "--idle-limit", "1.5", *SEND)),
    Case("starlette", "ws-crash", "ws:/ws-crash", args=(*WSW, "--send", "hello"),
         expect=("ws-early-close", "ws-abnormal-close"),
         wrong_words=(r"at \d+\.\d{3} s", MIXED_UNITS)),
    Case("starlette-no-ws-library", "ws-no-library", "ws:/ws", args=(*WSW, *SEND),
         expect=("ws-handshake-failed",),
         wrong_words=("No WebSocket route at this path", NO_WS_LIBRARY)),
    # Django (StreamingHttpResponse under ASGI) and Channels.
    Case("django", "healthy", "/healthy"),
    Case("django", "gzip", "/gzip/healthy", expect=("compressed-stream",)),
    Case("django", "channels-healthy", "ws:/ws", args=(*WSW, "--idle-limit", "1.5", *SEND)),
    Case("django", "channels-close", "ws:/ws-close", args=(*WSW, "--send", "hello"),
         expect=("ws-early-close", "ws-abnormal-close")),
    # Flask, one app under three WSGI servers.
    Case("flask-gunicorn", "healthy", "/healthy"),
    Case("flask-waitress", "healthy", "/healthy"),
    Case("flask-gunicorn-sync", "worker-timeout", "/healthy", expect=("premature-close",)),
    # Quart under Hypercorn; its RESPONSE_TIMEOUT scaled from 60 s to 1.5 s.
    Case("quart", "healthy", "/healthy"),
    Case("quart", "response-timeout", "/response-timeout", expect=("premature-close",)),
    # aiohttp + aiohttp-sse, and aiohttp's WebSocketResponse.
    Case("aiohttp", "healthy", "/healthy"),
    Case("aiohttp", "stall", "/stall", args=STALL, expect=("stalled-stream",)),
    Case("aiohttp", "ws-healthy", "ws:/ws", args=(*WSW, "--idle-limit", "1.5", *SEND)),
    Case("aiohttp", "ws-no-heartbeat", "ws:/ws-no-heartbeat",
         args=(*WSW, "--idle-limit", "1.5", *SEND), expect=("ws-no-keepalive",)),
    # python-socketio.
    Case("python-socketio", "healthy", "/socket.io/", args=(*WSW, *SIO), resumable=False),
    Case("python-socketio", "namespace-refused", "/socket.io/",
         args=(*WSW, "--namespace", "/admin"), expect=("socketio-namespace-rejected",)),
    # strawberry over graphql-transport-ws.
    Case("strawberry", "healthy", "ws:/graphql", args=(*WSW, *GQL, *COUNT), finite=True,
         resumable=False),
    Case("strawberry", "resolver-error", "ws:/graphql", args=(*WSW, *GQL, *BOOM),
         expect=("graphql-operation-error",)),
    # LiteLLM's proxy, OpenAI-compatible: the llm profile recognises the stream from its data.
    Case("litellm", "healthy", "/v1/chat/completions",
         args=(*W, *CHAT, f"@{FRAMEWORKS / 'litellm' / 'chat.json'}"), finite=True,
         resumable=False),
    Case("litellm", "upstream-down", "/v1/chat/completions",
         args=(*W, *CHAT, f"@{FRAMEWORKS / 'litellm' / 'chat-upstream-down.json'}"),
         expect=("http-error",)),
]


def litellm_bin() -> pathlib.Path:
    """LiteLLM's proxy lives in a venv of its own (.ci/run makes it): litellm[proxy] pins
    mcp 2.x, websockets 15 and gunicorn 23, against the test extra's mcp<2 and websockets 17."""
    venv = os.environ.get("SSE_DOCTOR_LITELLM_VENV") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "sse-doctor", "frameworks", "litellm")
    return pathlib.Path(venv) / "bin" / "litellm"


def runtime_missing(runtime: str) -> str | None:
    """Why servers of this runtime cannot run here, or None."""
    if runtime == "node":
        return node_ready()
    if runtime == "litellm" and not litellm_bin().exists():
        return (f"LiteLLM's proxy is not installed at {litellm_bin()} (.ci/run installs "
                "litellm[proxy] there)")
    return None


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


class Fleet:
    """The servers started by `running`, and a bounded wait for the ones a batch needs."""

    def __init__(self, started: dict[str, Running]) -> None:
        self.started = started

    def up(self, names: list[str], wait_s: float) -> dict[str, Running]:
        """Those of `names` that listen, once each listens, has exited, or `wait_s` passed."""
        deadline = time.monotonic() + wait_s
        waiting = {n: self.started[n] for n in names if n in self.started}
        while waiting and time.monotonic() < deadline:
            for name, run in list(waiting.items()):
                if run.proc.poll() is not None or _listening(run.port):
                    del waiting[name]
            if waiting:
                time.sleep(0.1)  # a server offers nothing to subscribe to
        return {n: run for n, run in self.started.items()
                if n in names and run.proc.poll() is None and _listening(run.port)}

    def failures(self, names: list[str]) -> dict[str, str]:
        """The log of each of `names` that is not listening now."""
        return {n: self.started[n].log_tail() for n in names
                if n in self.started and not (self.started[n].proc.poll() is None
                                              and _listening(self.started[n].port))}


@contextlib.contextmanager
def running(servers: list[Server], logs: pathlib.Path) -> Iterator[Fleet]:
    """Start every server at once (each on a free port, its output in a log), stop them all
    after: terminate, then kill whoever is still there 10 s later."""
    started: dict[str, Running] = {}
    try:
        for server in servers:
            port = _free_port()
            log = logs / f"{server.name}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    server.command(port), cwd=FRAMEWORKS / server.cwd, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT,
                    env={**os.environ, **server.env, "PORT": str(port)})
            started[server.name] = Running(server, port, proc, log)
        yield Fleet(started)
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


def warm_up(up: dict[str, Running], cases: list[Case], wait_s: float = 20) -> None:
    """One request to every HTTP route the cases probe, before any probe runs: a server's
    first request pays for its lazy imports and compilation (FastAPI, Django, yoga's schema),
    and on a busy machine that first answer can come late enough to read as delayed-headers.
    Reads the head only, then hangs up (a stream never ends by itself)."""
    import http.client

    for case in cases:
        if case.server not in up or case.path.startswith("ws:"):
            continue
        path = case.path + ("?query=%7Bhello%7D" if case.path == "/graphql" else "")
        if path.startswith("/socket.io/"):
            path += "?EIO=4&transport=polling"
        method, body = "GET", None
        headers = {"Accept": "text/event-stream, */*"}
        if "-d" in case.args:  # the request itself (an LLM answer is finite: read it all)
            method = "POST"
            body = pathlib.Path(case.args[case.args.index("-d") + 1][1:]).read_bytes()
            headers["Content-Type"] = "application/json"
        if "--bearer" in case.args:
            headers["Authorization"] = f"Bearer {case.args[case.args.index('--bearer') + 1]}"
        conn = http.client.HTTPConnection("127.0.0.1", up[case.server].port, timeout=wait_s)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            if body is not None:
                response.read()
        except OSError:
            pass  # the probe itself will say what is wrong
        finally:
            conn.close()
