"""The timeline of one scenario, as data: lanes, marks, silences and the close, from an
SseObservation itself for SSE (every kept event, comment and read), and from an observation's
``json_parts`` for every other kind (WebSocket, experiments), so a new observation kind gets a
timeline without touching this module. svg.py draws it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sse_doctor.checks.timing_checks import silences
from sse_doctor.model import Chunk, CommentRec, EventRec, Result, SseObservation
from sse_doctor.report.html_text import integer, num
from sse_doctor.units import size_text
from sse_doctor.ws import closecodes

MAX_MARKS = 2000  # marks per timeline; beyond it marks are aggregated into time slices
MAX_GAPS = 200  # shaded silences per timeline (the longest ones)
MAX_LEGEND_TYPES = 8  # event types with a colour of their own; the rest are "other"

CLOSE_WORDS = {
    "server": "closed by the server",
    "transport": "connection broke",
    "client": "ended by sse-doctor",
    "deadline": "window over",
}


@dataclass(frozen=True)
class Lane:
    label: str
    noun: str  # what one mark is, for aggregated tooltips
    fixed: str | None = None  # CSS class when its marks are not coloured by type
    known: tuple[tuple[str, str], ...] = ()  # types with a colour of their own (kind, class)

    def known_cls(self, kind: str) -> str | None:
        return next((c for k, c in self.known if k == kind), None)


@dataclass(slots=True)
class Mark:
    t_ms: float
    lane: int
    kind: str  # event / message type: the colour key
    small: bool  # heartbeats and control frames
    src: Any  # what it shows (EventRec, CommentRec, Chunk or a JSON item), described lazily:
    # a firehose has 100,000 marks of which at most MAX_MARKS are drawn one by one


def describe(src: Any) -> tuple[str, str | None]:
    """Short facts and the data/text of one item, for its tooltip."""
    if isinstance(src, EventRec):
        return (f"id {src.id}" if src.id else "no id"), \
            src.data if src.data is not None else "(data not kept)"
    if isinstance(src, CommentRec):
        return "", src.text
    if isinstance(src, Chunk):
        return f"{size_text(src.size)}, {src.records} record(s)", None
    if not isinstance(src, dict):
        return "", None
    if "dir" in src:  # a WebSocket frame
        size = size_text(int(num(src.get("size")) or 0))
        facts = f"{'in' if src['dir'] == 'in' else 'out'} · {size}"
        if integer(src.get("code")) is not None:
            facts += f" · code {src['code']} {closecodes.name(src['code'])}"
        return facts, _text_or_none(src.get("text"))
    if "event" in src:
        return (f"id {src['id']}" if src.get("id") else "no id"), _text_or_none(src.get("data"))
    return "", _text_or_none(src.get("text"))


@dataclass
class Timeline:
    lanes: list[Lane]
    marks: list[Mark]
    span_ms: float
    gaps: list[tuple[float, float]]  # silences longer than the idle limit
    idle_limit_ms: float | None
    close: dict[str, Any] | None
    note: str = ""  # what was not kept, said under the chart

    def __post_init__(self) -> None:
        self.kinds: list[Counter[str]] = [Counter() for _ in self.lanes]  # per lane
        for m in self.marks:
            self.kinds[m.lane][m.kind] += 1


SSE_LANES = [Lane("events", "events"), Lane("comments", "comments", "cm"),
             Lane("reads", "reads", "rd")]
KEEPALIVE_FRAMES = frozenset({"ping", "pong"})
# WebSocket control frames look the same in every report, whatever the data types are.
FRAME_CLASSES = (("close", "cl"), ("ping", "pg"), ("pong", "pg"))


def _over(gaps: list[tuple[float, float]], idle_limit_ms: float | None) \
        -> list[tuple[float, float]]:
    if idle_limit_ms is None:
        return []
    long = [g for g in gaps if g[1] - g[0] > idle_limit_ms]
    if len(long) > MAX_GAPS:
        long = sorted(sorted(long, key=lambda g: g[0] - g[1])[:MAX_GAPS])
    return long


def sse_timeline(obs: SseObservation, idle_limit_s: float | None) -> Timeline | None:
    if obs.unreachable is not None or obs.status is None:
        return None
    if not obs.streamed and not obs.chunks and not obs.events:
        return None
    marks = [Mark(e.t_ms, 0, e.type, False, e) for e in obs.events]
    marks += [Mark(c.t_ms, 1, "comment", True, c) for c in obs.comments]
    marks += [Mark(c.t_ms, 2, "read", True, c) for c in obs.chunks]
    idle = idle_limit_s * 1000 if idle_limit_s is not None else None
    # The same silences the no-heartbeat check measured, so the shading matches the finding.
    gaps = _over(silences(obs), idle) if obs.streamed else []
    close = obs.close.to_json() if obs.close else None
    last = [items[-1].t_ms for items in (obs.events, obs.comments, obs.chunks) if items]
    span = max([obs.end_ms, close["t_ms"] if close else 0.0, *last])
    notes = []
    if obs.n_events > len(obs.events):
        notes.append(f"the first {len(obs.events):,} of {obs.n_events:,} events were kept")
    if obs.n_chunks > len(obs.chunks):
        notes.append(f"the first {len(obs.chunks):,} of {obs.n_chunks:,} reads were kept")
    return Timeline(list(SSE_LANES), marks, span, gaps, idle, close, "; ".join(notes))


def generic_timeline(parts: dict[str, Any], obs: Any, idle_limit_s: float | None) \
        -> Timeline | None:
    """A timeline from the JSON parts any observation kind provides."""
    lanes = [Lane("events", "events"), Lane("comments", "comments", "cm"),
             Lane("from server", "frames in", known=FRAME_CLASSES),
             Lane("sent", "frames out", known=FRAME_CLASSES)]
    marks: list[Mark] = []
    for e in parts.get("events") or []:
        t = num(e.get("t_ms")) if isinstance(e, dict) else None
        if t is not None:
            marks.append(Mark(t, 0, str(e.get("event", "message")), False, e))
    for c in parts.get("comments") or []:
        t = num(c.get("t_ms")) if isinstance(c, dict) else None
        if t is not None:
            marks.append(Mark(t, 1, "comment", True, c))
    for m in parts.get("messages") or []:
        t = num(m.get("t_ms")) if isinstance(m, dict) else None
        if t is None:
            continue
        kind = str(m.get("type", "message"))
        marks.append(Mark(t, 2 if m.get("dir") == "in" else 3, kind, kind in KEEPALIVE_FRAMES,
                          m))
    close = parts.get("close") if isinstance(parts.get("close"), dict) else None
    conn = parts.get("connection") or {}
    if getattr(obs, "unreachable", None) is not None:
        return None  # nothing reached the server: no timeline, the close fact says why
    if not marks and close is None and conn.get("status") is None:
        return None
    close_t = num(close.get("t_ms")) if close else None
    end = num(getattr(obs, "end_ms", None))
    span = max([0.0, *(m.t_ms for m in marks), close_t or 0.0, end or 0.0])
    idle = idle_limit_s * 1000 if idle_limit_s is not None else None
    if callable(getattr(obs, "silences", None)):
        gaps = list(obs.silences())
    else:
        # Server-sent items only: what we sent does not keep a connection alive.
        times = sorted(m.t_ms for m in marks
                       if m.lane in (0, 1) or (m.lane == 2 and m.kind != "pong"))
        start = num(conn.get("headers_ms")) or 0.0
        points = [start, *(t for t in times if t >= start), max(close_t or span, start)]
        gaps = list(zip(points, points[1:]))
    # Keep the lanes that have marks (at least one, where gaps and the close are drawn).
    used = sorted({m.lane for m in marks}) or [2 if parts.get("messages") is not None else 0]
    renumber = {old: new for new, old in enumerate(used)}
    for m in marks:
        m.lane = renumber[m.lane]
    marks.sort(key=lambda m: m.t_ms)
    return Timeline([lanes[i] for i in used], marks, max(span, 1.0), _over(gaps, idle), idle,
                    close)


def timeline_for(r: Result, parts: dict[str, Any]) -> Timeline | None:
    idle = num(getattr(r.options, "idle_limit", None))
    if isinstance(r.observation, SseObservation):
        return sse_timeline(r.observation, idle)
    if r.observation is None:
        return None
    return generic_timeline(parts, r.observation, idle)



def typed_counts(tl: Timeline) -> Counter[str]:
    """How many marks of each type get a palette colour (not a lane's or a frame's own)."""
    out: Counter[str] = Counter()
    for lane, kinds in zip(tl.lanes, tl.kinds):
        if lane.fixed is None:
            out.update({k: n for k, n in kinds.items() if lane.known_cls(k) is None})
    return out


def palette(tl: Timeline) -> dict[str, str]:
    """Event/message type -> CSS class, the most frequent types first; the rest share 'ot'."""
    common = typed_counts(tl).most_common(MAX_LEGEND_TYPES)
    return {k: f"c{i}" for i, (k, _) in enumerate(common)}


def _text_or_none(x: Any) -> str | None:
    return None if x is None else str(x)
