"""What the MCP conversation exchanges with the shell and what it records, sans-I/O: the
Request the core asks for, the Reply the shell brings back, the record the checks read, and
the small readings both walks share (when an answer is complete, a Host/Origin refusal)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp.messages import Message
from sse_doctor.redact import shorten

MAX_INVALID = 20  # invalid messages kept as evidence (all are counted)


def short(session_id: str) -> str:
    """An Mcp-Session-Id as outputs show it: enough to tell two apart, not enough to use."""
    return shorten(session_id)


@dataclass
class SseItem:
    """One SSE event of a reply (the shell parses with sse.parser)."""

    t_ms: float
    type: str
    data: str
    id: str  # the last event ID in force, as EventSource sees it
    retry: int | None = None  # the reconnection time in force (ms), as EventSource sees it


@dataclass
class Request:
    step: str  # the step's name in the report
    method: str  # HTTP method
    url: str
    headers: list[tuple[str, str]]  # protocol headers; the shell adds the user's own
    body: bytes | None = None
    rpc_id: int | None = None  # the JSON-RPC id whose response ends the reading
    # how the shell reads the answer:
    #   rpc      until the response to rpc_id (JSON body, or SSE events) or the deadline
    #   accept   the head and a short body (a notification: 202 expected)
    #   hold     a GET stream held for the window; the Reply carries its SseObservation
    #   resume   a GET with Last-Event-ID, read until every id in expect_ids came
    #   legacy-open  a GET kept open in the background; answer at its first event
    #   legacy-rpc   POST, then wait on the background stream for the response to rpc_id
    #   legacy-hold  keep the background stream until the window ends
    read: str = "rpc"
    expect_ids: tuple[str, ...] = ()
    # The core's word on when an SSE answer is complete (the shell never decodes JSON-RPC):
    # true for the event that carries the awaited response.
    until: Callable[[SseItem], bool] | None = None
    delay_s: float = 0.0  # wait this long before sending (a server's `retry` before a resume)


def answers(rpc_id: int | str) -> Callable[[SseItem], bool]:
    """The completion test for the response to rpc_id."""
    def done(item: SseItem) -> bool:
        return bool(item.data.strip()) and any(m.answers(rpc_id) for m in rpc.read(item.data))
    return done


@dataclass
class Reply:
    status: int | None  # None: no response head (see error)
    t_ms: float = 0.0  # when the request was sent, ms since the session began
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # a non-SSE body (bounded)
    events: list[SseItem] = field(default_factory=list)
    ended: str = ""  # server (body ended) | response (we stopped after it) | deadline | transport
    error: str = ""  # no response: why, in words
    unreachable: bool = False  # could not connect at all (DNS, refused, TLS)
    observation: Any = None  # hold / legacy-hold: the stream's SseObservation
    post_status: int | None = None  # legacy-rpc: the POST's own status
    http_version: str | None = None
    head_ms: float | None = None  # when the response head came, ms since the session began
    end_ms: float = 0.0  # when the exchange was over, ms since the session began

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def is_sse(self) -> bool:
        return self.content_type == "text/event-stream"


@dataclass
class McpStep:
    t_ms: float
    step: str
    status: int | str | None
    detail: str
    ok: bool = True


@dataclass
class McpRecord:
    """What the conversation found, for the pure checks and the report."""

    url: str
    version_offered: str
    version: str | None = None  # the revision spoken (negotiated)
    version_asked: str = "auto"  # --mcp-version: auto or a revision
    era: str | None = None  # modern (2026-07-28) | handshake (2025) | None (nothing spoken)
    revisions_supported: list[str] = field(default_factory=list)  # as the server said them
    negotiation: list[str] = field(default_factory=list)  # each hop, in words
    revision_refused: str | None = None  # an explicit revision the server would not speak
    revision_offered: list[str] = field(default_factory=list)  # what it offered instead
    host_rejected: tuple[int, str] | None = None  # (status, words): Host or Origin refused
    discover_failed: str | None = None  # a modern server refused or garbled server/discover
    headers_ignored: str | None = None  # served a request whose headers contradict its body
    listen: str | None = None  # ok | unacknowledged | unsupported | refused | skipped
    listen_detail: str = ""
    call: str | None = None  # --call: ok | input_required | error | tool-error | missing
    call_detail: str = ""
    prompts: int | None = None
    resources: int | None = None
    transport: str = "streamable-http"  # or "http+sse" (2024-11-05)
    session_id: str | None = None
    server: str | None = None  # serverInfo name and version
    capabilities: list[str] = field(default_factory=list)
    response_modes: list[str] = field(default_factory=list)  # "json" / "sse" per request
    tools: int | None = None
    steps: list[McpStep] = field(default_factory=list)
    unreachable: str | None = None
    init_failed: str | None = None  # the reason in words
    init_status: int | None = None
    lost: list[tuple[str, int, str]] = field(default_factory=list)  # (step, status, body)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (step, what happened)
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # (where, why, excerpt)
    n_invalid: int = 0
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # other HTTP errors
    legacy_endpoint: str | None = None
    get_status: int | None = None
    get_observation: Any = None  # the GET stream (or the legacy stream): SseObservation
    init_observation: Any = None  # set by the shell: the initialize exchange
    resume: str | None = None  # None (not tried) | "ok" | "broken"
    resume_detail: str = ""
    resume_evidence: dict[str, Any] = field(default_factory=dict)
    terminate: str | None = None  # "ok" (refused after DELETE) | "405" | "not-terminated" ...
    not_terminated: str | None = None
    initialize_ms: float | None = None

    def step(self, t_ms: float, name: str, status: int | str | None, detail: str,
             ok: bool = True) -> None:
        self.steps.append(McpStep(t_ms, name, status, detail, ok))

    def add_invalid(self, where: str, msg: Message) -> None:
        self.n_invalid += 1
        if len(self.invalid) < MAX_INVALID:
            self.invalid.append((where, msg.why, msg.excerpt))



def host_refusal(reply: Reply) -> str | None:
    """A DNS-rebinding guard's refusal in words: 421 for the Host header (the Python SDK),
    403 for the Origin (the spec's MUST); None when the refusal is about something else."""
    body = rpc.excerpt(reply.body)
    said = f" ({body})" if body else ""
    if reply.status == 421:
        return ("421 Misdirected Request: the server's DNS-rebinding protection refused the "
                f"Host header{said}. Behind a proxy that passes its own Host, add the public "
                "host to the server's allowed hosts or let the proxy pass the original Host")
    if reply.status == 403 and ("origin" in body.lower() or "host" in body.lower()):
        what = "Origin" if "origin" in body.lower() else "Host"
        return (f"403 Forbidden: the server refused the {what} header{said} (the spec's answer "
                "to an invalid Origin). A browser-facing proxy or page sends an Origin the "
                "server does not allow: add it to the allowed origins")
    return None
