"""The data that flows through the core: observations in, findings out, one report model.

Observations are what an engine recorded (timestamped raw material, already parsed); checks
turn them into findings, a command's conclusion into Results, and renderers the Report into
text, JSON, JUnit or HTML.
Times are milliseconds since the request (or WS opening handshake) was sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.codes import SEVERITY_RANK, fails, get
from sse_doctor.units import header_value

# Bounds that keep memory flat on endless or huge streams. Counters keep counting past them.
MAX_TIMELINE = 100_000  # chunks / events / comments kept for the timing checks
MAX_RAW_PREFIX = 1 << 20  # body bytes kept for the client-divergence check and -v
MAX_BODY_EXCERPT = 2048  # body bytes kept for http-error / not-event-stream evidence
MAX_DIAG_EXAMPLES = 20


@dataclass
class Finding:
    code: str
    severity: str
    title: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # Muted with --ignore (or a suite's `ignore`): reported, but it decides neither the
    # verdict nor the exit code.
    ignored: bool = False

    @property
    def advice(self) -> str:
        return get(self.code).advice

    def to_json(self) -> dict[str, Any]:
        out = {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "evidence": self.evidence,
        }
        if self.ignored:
            out["ignored"] = True
        return out


def finding(code: str, detail: str, severity: str | None = None, **evidence: Any) -> Finding:
    """A finding for a registered code; severity defaults to the registry's."""
    spec = get(code)
    return Finding(code, severity or spec.severity, spec.title, detail, evidence)


def when(ms: float) -> str:
    """A duration for people: milliseconds below a second, seconds above."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def verdict_of(findings: list[Finding]) -> str:
    worst = max((SEVERITY_RANK[f.severity] for f in findings if not f.ignored), default=0)
    return {0: "healthy", 1: "warning", 2: "error"}[worst]


@dataclass(slots=True)
class Chunk:
    t_ms: float
    size: int
    records: int  # events + comments completed by this chunk


@dataclass(slots=True)
class EventRec:
    t_ms: float
    type: str
    data: str | None  # None once more than --keep events were kept
    id: str
    retry: int | None
    truncated: bool
    size: int
    data_hash: int


@dataclass(slots=True)
class CommentRec:
    t_ms: float
    text: str


@dataclass
class Close:
    by: str  # server | transport | client | deadline
    t_ms: float
    code: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "t_ms": round(self.t_ms, 1), "code": self.code,
                "reason": self.reason}


@dataclass
class SseObservation:
    """What one SSE connection delivered, as recorded by sse.observe."""

    url: str
    method: str = "GET"
    started_at: datetime | None = None
    window_s: float = 0.0
    end_ms: float = 0.0
    unreachable: str | None = None  # reason when no response arrived
    status: int | None = None
    http_version: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    headers_ms: float | None = None
    ttfb_ms: float | None = None
    first_event_ms: float | None = None
    body_excerpt: bytes = b""
    raw_prefix: bytes = b""
    chunks: list[Chunk] = field(default_factory=list)
    events: list[EventRec] = field(default_factory=list)
    comments: list[CommentRec] = field(default_factory=list)
    retries: list[tuple[float, int]] = field(default_factory=list)
    diagnostics: Counter[str] = field(default_factory=Counter)
    diag_examples: list[tuple[float, str, str]] = field(default_factory=list)
    n_events: int = 0
    n_comments: int = 0
    n_bytes: int = 0
    n_chunks: int = 0
    close: Close | None = None
    http2_offered: bool = False
    t0: float = 0.0  # time.perf_counter() at the request: what every t_ms counts from
    # (from_ms, to_ms) while this client's own event loop could not run (a busy machine):
    # what arrived at its end waited in the socket, not in a server's buffer (loop_watch.py)
    client_stalls: list[tuple[float, float]] = field(default_factory=list)

    def __repr__(self) -> str:
        # Short on purpose: asyncio and tracebacks repr results, and the full dataclass repr
        # of an observation holding 100,000 events costs seconds.
        return (f"SseObservation(url={self.url!r}, status={self.status}, "
                f"events={self.n_events}, bytes={self.n_bytes}, close={self.close!r})")

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def streamed(self) -> bool:
        """True when a 2xx event stream was received (stream checks apply)."""
        if self.status is None or not 200 <= self.status < 300:
            return False
        ctype = (self.header("content-type") or "").split(";")[0].strip().lower()
        return ctype == "text/event-stream"


@dataclass
class ProbeOptions:
    duration: float = 30.0
    idle_limit: float = 30.0
    max_events: int | None = None
    expect_events: tuple[str, ...] = ()
    expect_close: float | None = None
    keep: int = 1000
    profile: Any = None  # profiles.ProfileChoice (None: as --profile none)


@dataclass
class Result:
    """One command's result (a stream, an experiment, a suite check) with its findings, ready to
    render. A report holds one or several (`Report.results`; the JSON's `scenarios`)."""

    name: str
    protocol: str
    url: str
    findings: list[Finding]
    checks_run: list[str]
    observation: Any = None  # SseObservation (or a WS observation)
    options: Any = None
    expected: list[str] | None = None  # the demo's expected codes
    allowed: frozenset[str] = frozenset()  # codes a suite check accepts: they never fail it
    profile: Any = None  # profiles.ProfileResult when a protocol profile read the stream
    # Ctrl-C/SIGTERM cut the observation short: checks that needed the whole window
    checks_incomplete: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"Result(name={self.name!r}, url={self.url!r}, "
                f"findings={[f.code for f in self.findings]}, observation={self.observation!r})")

    @property
    def verdict(self) -> str:
        return verdict_of(self.findings)

    def fails_at(self, fail_on: str) -> bool:
        """True when a finding that is not allowed reaches --fail-on."""
        return any(fails(f.severity, fail_on) for f in self.findings
                   if f.code not in self.allowed and not f.ignored)

    @property
    def matches_expected(self) -> bool:
        if self.expected is None:
            return True
        return {f.code for f in self.findings} == set(self.expected)


def protocol_of(results: list[Result]) -> str:
    """A multi-scenario report's protocol: the one its scenarios share, else "mixed"
    ("sse" when there are none)."""
    protocols = {r.protocol for r in results}
    if len(protocols) > 1:
        return "mixed"
    return protocols.pop() if protocols else "sse"


@dataclass
class Report:
    command: str
    url: str
    protocol: str
    started_at: datetime
    duration_s: float
    results: list[Result]
    multi: bool = False  # experiments and demo: always fill `scenarios`
    interrupted: bool = False  # Ctrl-C or SIGTERM: made from what was observed until then

    @property
    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for r in self.results:
            out.extend(r.findings)
        return out

    @property
    def verdict(self) -> str:
        return verdict_of(self.findings)


def mark_ignored(results: list[Result], codes: frozenset[str] | set[str]) -> None:
    """Mark every finding of these codes ignored (--ignore, a suite's `ignore`), in place:
    they stay in every output, marked, and decide neither verdict nor exit code."""
    if not codes:
        return
    for r in results:
        for f in r.findings:
            if f.code in codes:
                f.ignored = True
