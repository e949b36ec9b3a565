"""The HTML report: one self-contained page (inline CSS and SVG, no external assets) rendered
from the same Report model as the terminal, JSON and JUnit outputs.

Everything a server or a user sent (event data, headers, reasons, URLs, scenario names) is
hostile input here: it is redacted first, then cut, then cleaned of characters that are not
allowed in a document, then escaped. Nothing server-controlled ever reaches an attribute name,
a class or an id. The page is also well-formed XML, so tests can parse it strictly.

Timelines come from the SseObservation itself for SSE (every kept event, comment and read),
and from an observation's ``json_parts`` for every other kind (WebSocket, experiments), so a
new observation kind gets a timeline without touching this module.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from sse_doctor import __version__
from sse_doctor.checks.registry import SEVERITY_RANK
from sse_doctor.checks.timing_checks import silences
from sse_doctor.model import (
    Chunk,
    CommentRec,
    EventRec,
    Finding,
    Report,
    ScenarioResult,
    SseObservation,
)
from sse_doctor.redact import Redactor
from sse_doctor.report.json_report import result_parts
from sse_doctor.units import ms_text, size_text
from sse_doctor.ws import closecodes

# Bounds that keep the page small whatever the stream did.
MAX_MARKS = 2000  # marks per timeline; beyond it marks are aggregated into time slices
EXCERPT = 120  # characters of event data / message text in a tooltip
MAX_HEADERS = 60
MAX_HEADER_VALUE = 300
MAX_BODY = 600
MAX_EVIDENCE = 2000
MAX_GAPS = 200  # shaded silences per timeline (the longest ones)
MAX_WATCH_POINTS = 400  # points per watched-series chart (min/max per slice beyond it)
MAX_LEGEND_TYPES = 8  # event types with a colour of their own; the rest are "other"
MAX_EXTRA_FACTS = 40
MAX_ROWS = 60  # experiment steps and connections listed
MAX_COLUMNS = 12

# Characters a document may not contain (C0 controls, DEL, lone surrogates from undecodable
# bytes, XML non-characters): a hostile stream must not make the page unparseable.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SLUG = re.compile(r"[^a-z0-9]+")

VERDICT_WORDS = {"healthy": "HEALTHY", "warning": "WARNING", "error": "ERROR"}
CLOSE_WORDS = {
    "server": "closed by the server",
    "transport": "connection broke",
    "client": "ended by sse-doctor",
    "deadline": "window over",
}


class Esc:
    """Redact, cut, clean and escape: the one way any text reaches the page."""

    def __init__(self, redactor: Redactor) -> None:
        self.red = redactor

    def __call__(self, value: object, limit: int | None = None) -> str:
        s = self.red.text(str(value))
        if limit is not None and len(s) > limit:
            s = s[: limit - 1] + "…"
        return html.escape(_UNSAFE.sub("\ufffd", s), quote=True)

    def url(self, url: str) -> str:
        return html.escape(_UNSAFE.sub("\ufffd", self.red.url(url)), quote=True)

    def header(self, name: str, value: str) -> str:
        v = self.red.header(name, value)
        if len(v) > MAX_HEADER_VALUE:
            v = v[: MAX_HEADER_VALUE - 1] + "…"
        return html.escape(_UNSAFE.sub("\ufffd", v), quote=True)


def one_line(text: str | None, limit: int = EXCERPT) -> str:
    """A single-line excerpt: newlines shown as ↵, cut at ``limit`` characters."""
    if text is None:
        return ""
    s = text[: limit + 1].replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.3f} s"


def count(n: int, noun: str) -> str:
    """'1 event', '2 events', '1,000 events'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# --- the timeline model (pure) -------------------------------------------------------------


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
        size = size_text(int(_num(src.get("size")) or 0))
        facts = f"{'in' if src['dir'] == 'in' else 'out'} · {size}"
        if _int(src.get("code")) is not None:
            facts += f" · code {src['code']} {closecodes.name(src['code'])}"
        return facts, _str(src.get("text"))
    if "event" in src:
        return (f"id {src['id']}" if src.get("id") else "no id"), _str(src.get("data"))
    return "", _str(src.get("text"))


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


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x) else None


def generic_timeline(parts: dict[str, Any], obs: Any, idle_limit_s: float | None) \
        -> Timeline | None:
    """A timeline from the JSON parts any observation kind provides."""
    lanes = [Lane("events", "events"), Lane("comments", "comments", "cm"),
             Lane("from server", "frames in", known=FRAME_CLASSES),
             Lane("sent", "frames out", known=FRAME_CLASSES)]
    marks: list[Mark] = []
    for e in parts.get("events") or []:
        t = _num(e.get("t_ms")) if isinstance(e, dict) else None
        if t is not None:
            marks.append(Mark(t, 0, str(e.get("event", "message")), False, e))
    for c in parts.get("comments") or []:
        t = _num(c.get("t_ms")) if isinstance(c, dict) else None
        if t is not None:
            marks.append(Mark(t, 1, "comment", True, c))
    for m in parts.get("messages") or []:
        t = _num(m.get("t_ms")) if isinstance(m, dict) else None
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
    close_t = _num(close.get("t_ms")) if close else None
    end = _num(getattr(obs, "end_ms", None))
    span = max([0.0, *(m.t_ms for m in marks), close_t or 0.0, end or 0.0])
    idle = idle_limit_s * 1000 if idle_limit_s is not None else None
    if callable(getattr(obs, "silences", None)):
        gaps = list(obs.silences())
    else:
        # Server-sent items only: what we sent does not keep a connection alive.
        times = sorted(m.t_ms for m in marks
                       if m.lane in (0, 1) or (m.lane == 2 and m.kind != "pong"))
        start = _num(conn.get("headers_ms")) or 0.0
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


def _str(x: Any) -> str | None:
    return None if x is None else str(x)


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


# --- SVG ---------------------------------------------------------------------------------------

W = 1000
LEFT, RIGHT, TOP = 110, 24, 24
LANE_H = 30
AXIS_H = 30
STACK_PX = 2.0  # marks closer than this (in chart units) are one visual mark...
STACK_MIN = 3  # ...labelled with their number when there are at least this many


def nice_ticks(span_s: float) -> list[float]:
    raw = max(span_s, 1e-3) / 8
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if raw <= m * mag)
    n = int(span_s / step + 1e-9)
    return [round(i * step, 6) for i in range(n + 1)]


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


class TimelineSvg:
    def __init__(self, tl: Timeline, esc: Esc, title: str) -> None:
        self.tl, self.esc, self.title = tl, esc, title
        self.plot_w = W - LEFT - RIGHT
        self.height = TOP + LANE_H * len(tl.lanes) + AXIS_H
        self.colours = palette(tl)
        self.aggregated = len(tl.marks) > MAX_MARKS

    def x(self, t_ms: float) -> float:
        return LEFT + max(0.0, min(t_ms, self.tl.span_ms)) / self.tl.span_ms * self.plot_w

    def cls(self, m: Mark) -> str:
        lane = self.tl.lanes[m.lane]
        return lane.fixed or lane.known_cls(m.kind) or self.colours.get(m.kind, "ot")

    def render(self) -> str:
        tl, esc = self.tl, self.esc
        out = [f'<svg class="timeline" viewBox="0 0 {W} {self.height}" role="img" '
               f'preserveAspectRatio="xMinYMin meet"><title>{esc(self.title)}</title>']
        bottom = TOP + LANE_H * len(tl.lanes)
        for i, lane in enumerate(tl.lanes):
            y = TOP + i * LANE_H
            out.append(f'<rect class="lane{i % 2}" x="{LEFT}" y="{y}" width="{self.plot_w}" '
                       f'height="{LANE_H}"/>')
            out.append(f'<text class="lanelabel" x="{LEFT - 8}" y="{y + LANE_H / 2 + 4}">'
                       f'{esc(lane.label)}</text>')
        out.extend(self._gaps(bottom))
        out.extend(self._aggregated() if self.aggregated else self._marks())
        out.extend(self._close(bottom))
        out.extend(self._axis(bottom))
        out.append("</svg>")
        return "".join(out)

    def _gaps(self, bottom: float) -> list[str]:
        out = []
        for a, b in self.tl.gaps:
            x0, x1 = self.x(a), self.x(b)
            length = (b - a) / 1000
            tip = (f"silent for {length:.1f} s, from {seconds(a)} to {seconds(b)}: longer than "
                   f"the idle limit of {(self.tl.idle_limit_ms or 0) / 1000:g} s")
            out.append(f'<g class="gap"><title>{self.esc(tip)}</title>'
                       f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{bottom - TOP}"/>')
            if x1 - x0 >= 44:
                out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{(TOP + bottom) / 2 + 4:.1f}">'
                           f'{length:.1f} s</text>')
            out.append("</g>")
        return out

    def _tip(self, m: Mark) -> str:
        lane = self.tl.lanes[m.lane]
        head = f"{seconds(m.t_ms)} · {m.kind if lane.fixed is None else lane.label[:-1]}"
        facts, body = describe(m.src)
        excerpt = one_line(self.esc.red.text(body)) if body is not None else ""
        return " · ".join(p for p in (head, facts, excerpt) if p)

    def _marks(self) -> list[str]:
        out = []
        for m in self.tl.marks:
            x = self.x(m.t_ms)
            y = TOP + m.lane * LANE_H
            tip = f"<title>{self.esc(self._tip(m))}</title>"
            if m.small:
                out.append(f'<circle class="mk {self.cls(m)}" cx="{x:.1f}" '
                           f'cy="{y + LANE_H / 2}" r="3">{tip}</circle>')
            else:
                out.append(f'<rect class="mk {self.cls(m)}" x="{x - 1.5:.1f}" y="{y + 5}" '
                           f'width="3" height="{LANE_H - 10}">{tip}</rect>')
        return out + self._stacks()

    def _stacks(self) -> list[str]:
        """'×10' beside marks drawn on top of each other: a burst must not look like one item."""
        out = []
        for lane_i in range(len(self.tl.lanes)):
            xs = sorted(self.x(m.t_ms) for m in self.tl.marks if m.lane == lane_i)
            start = 0
            for i in range(1, len(xs) + 1):
                if i < len(xs) and xs[i] - xs[i - 1] <= STACK_PX:
                    continue
                if i - start >= STACK_MIN:
                    y = TOP + lane_i * LANE_H + LANE_H / 2 + 4
                    out.append(f'<text class="stack" x="{xs[i - 1] + 4:.1f}" y="{y}">'
                               f"×{i - start}</text>")
                start = i
        return out

    def _aggregated(self) -> list[str]:
        """One mark per lane and time slice, saying how many items and of which types."""
        per_lane = max(1, MAX_MARKS // len(self.tl.lanes))
        slice_ms = self.tl.span_ms / per_lane
        bins: defaultdict[tuple[int, int], Counter[str]] = defaultdict(Counter)
        last = per_lane - 1
        for m in self.tl.marks:
            bins[m.lane, min(last, int(m.t_ms / slice_ms))][m.kind] += 1
        out = []
        for (lane_i, i), kinds in sorted(bins.items()):
            lane = self.tl.lanes[lane_i]
            a, b = i * slice_ms, (i + 1) * slice_ms
            n = sum(kinds.values())
            what = ", ".join(f"{k} ×{c}" for k, c in kinds.most_common(4))
            if len(kinds) > 4:
                what += f", {len(kinds) - 4} more types"
            tip = f"{n} {lane.noun} from {seconds(a)} to {seconds(b)}"
            if lane.fixed is None:
                tip += f": {what}"
            top = kinds.most_common(1)[0][0]
            cls = lane.fixed or lane.known_cls(top) or self.colours.get(top, "ot")
            x0 = self.x(a)
            y = TOP + lane_i * LANE_H
            out.append(f'<rect class="mk {cls}" x="{x0:.1f}" y="{y + 5}" '
                       f'width="{max(self.x(b) - x0, 1.5):.1f}" height="{LANE_H - 10}">'
                       f"<title>{self.esc(tip)}</title></rect>")
        return out

    def _close(self, bottom: float) -> list[str]:
        c = self.tl.close
        if not c or _num(c.get("t_ms")) is None:
            return []
        x = self.x(float(c["t_ms"]))
        by = str(c.get("by"))
        label = CLOSE_WORDS.get(by, f"closed ({by})")
        code = _int(c.get("code"))
        if code is not None:
            label += f" · {code} {closecodes.name(code)}"
        tip = f"{seconds(float(c['t_ms']))} · {label}"
        if c.get("reason"):
            tip += f" · {one_line(str(c['reason']))}"
        anchor, dx = ("end", -4) if x > LEFT + self.plot_w * 0.6 else ("start", 4)
        by_cls = by if by in CLOSE_WORDS else "other"
        return [f'<g class="close close-{by_cls}"><title>{self.esc(tip)}</title>'
                f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}"/>'
                f'<text x="{x + dx:.1f}" y="{TOP - 8}" text-anchor="{anchor}">'
                f"{self.esc(label, 60)}</text></g>"]

    def _axis(self, bottom: float) -> list[str]:
        out = [f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{LEFT + self.plot_w}" '
               f'y2="{bottom}"/>']
        for s in nice_ticks(self.tl.span_ms / 1000):
            x = self.x(s * 1000)
            out.append(f'<line class="axis" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" '
                       f'y2="{bottom + 5}"/><text class="tick" x="{x:.1f}" y="{bottom + 18}">'
                       f"{s:g} s</text>")
        return out


def legend(tl: Timeline, svg: TimelineSvg, esc: Esc) -> str:
    items = []
    typed = typed_counts(tl)
    for kind, cls in svg.colours.items():
        items.append(_swatch(cls, f"{esc(kind, 40)} ({typed[kind]:,})"))
    others = sum(n for k, n in typed.items() if k not in svg.colours)
    if others:
        items.append(_swatch("ot", f"other types ({others:,})"))
    known: Counter[str] = Counter()
    for lane, kinds in zip(tl.lanes, tl.kinds):
        for kind, n in kinds.items():
            cls = lane.known_cls(kind)
            if cls is not None:
                known[cls] += n
    for cls, label in (("cl", "close frame"), ("pg", "ping/pong")):
        if known[cls]:
            items.append(_swatch(cls, f"{label} ({known[cls]:,})", round_=cls == "pg"))
    for i, lane in enumerate(tl.lanes):
        if lane.fixed:
            n = sum(tl.kinds[i].values())
            items.append(_swatch(lane.fixed, f"{esc(lane.label[:-1])} ({n:,})", round_=True))
    if tl.gaps:
        items.append(_swatch("gapkey", f"silence over the idle limit of "
                                       f"{(tl.idle_limit_ms or 0) / 1000:g} s ({len(tl.gaps)})"))
    if tl.close:
        by = str(tl.close.get("by"))
        items.append(_swatch("closekey", f"end: {esc(CLOSE_WORDS.get(by, by), 40)}"))
    return '<ul class="legend">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _swatch(cls: str, label: str, round_: bool = False) -> str:
    shape = ('<circle cx="6" cy="6" r="4"/>' if round_ else
             '<rect x="1" y="1" width="10" height="10"/>')
    return (f'<svg class="sw {cls}" width="12" height="12" viewBox="0 0 12 12" '
            f'aria-hidden="true">{shape}</svg> {label}')


# --- watched series (experiments) ------------------------------------------------------------

WW, WH = 460, 150
WL, WR, WT, WB = 56, 16, 22, 28


def thin(samples: list[tuple[float, float]], limit: int = MAX_WATCH_POINTS) \
        -> list[tuple[float, float]]:
    """At most ``limit`` points, keeping each slice's lowest and highest value."""
    if len(samples) <= limit:
        return samples
    size = math.ceil(len(samples) / max(1, limit // 2))
    out: list[tuple[float, float]] = []
    for i in range(0, len(samples), size):
        part = samples[i:i + size]
        lo, hi = min(part, key=lambda p: p[1]), max(part, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    return out


def _segments(raw: Any) -> list[list[tuple[float, float]]]:
    """Runs of readable samples; a failed reading (value null) breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    points = sorted((p for p in raw or [] if isinstance(p, (list, tuple)) and len(p) == 2
                     and _num(p[0]) is not None), key=lambda p: p[0])
    for t, v in points:
        if _num(v) is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((float(t), float(v)))
    runs = [r for r in runs if r]
    if len(runs) > MAX_WATCH_POINTS // 8:  # readings failing on and off: draw one line
        runs = [[p for r in runs for p in r]]
    total = sum(len(r) for r in runs)
    if total <= MAX_WATCH_POINTS:
        return runs
    # Thin every run in proportion to its length, so the page stays small.
    return [thin(r, max(2, MAX_WATCH_POINTS * len(r) // total)) for r in runs]


def watch_chart(w: dict[str, Any], esc: Esc) -> str:
    runs = _segments(w.get("samples"))
    baseline = _num(w.get("baseline"))
    name = str(w.get("name", "watched value"))
    values = [v for run in runs for _, v in run] + ([baseline] if baseline is not None else [])
    facts = []
    for key in ("baseline", "peak", "final"):
        if w.get(key) is not None:
            facts.append(f"{key} {esc(_value(w[key]), 40)}")
    returned = w.get("returned")
    if returned is not None:
        facts.append('<strong class="ok">returned to baseline</strong>' if returned else
                     '<strong class="bad">did not return to baseline</strong>')
    if _num(w.get("error_count")):
        facts.append(f'<span class="bad">{count(int(w["error_count"]), "failed reading")}</span>')
    source = f" ({esc(w['source'], 120)})" if w.get("source") else ""
    caption = (f"<figcaption><code>{esc(name, 200)}</code>{source}: {' · '.join(facts)}"
               "</figcaption>")
    if not values:
        return f'<figure class="watch">{caption}<p class="nothing">No readings.</p></figure>'
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    end_ms, settled_ms = _num(w.get("end_ms")), _num(w.get("settled_ms"))
    t_end = max([t for run in runs for t, _ in run] + [end_ms or 0.0, settled_ms or 0.0]) or 1.0
    pw, ph = WW - WL - WR, WH - WT - WB

    def x(t: float) -> float:
        return WL + t / t_end * pw

    def y(v: float) -> float:
        return WT + (hi - v) / (hi - lo) * ph

    parts = [f'<svg class="watchchart" viewBox="0 0 {WW} {WH}" role="img">'
             f"<title>{esc(name, 200)} over time</title>",
             f'<rect class="lane0" x="{WL}" y="{WT}" width="{pw}" height="{ph}"/>']
    for t, label, anchor in ((end_ms, "actions ended", "end"), (settled_ms, "settled", "start")):
        if t is not None:
            dx = -3 if anchor == "end" else 3
            parts.append(f'<line class="moment" x1="{x(t):.1f}" y1="{WT}" x2="{x(t):.1f}" '
                         f'y2="{WT + ph}"/><text class="tick {anchor}" x="{x(t) + dx:.1f}" '
                         f'y="{WT - 6}">{label}</text>')
    if baseline is not None:
        parts.append(f'<line class="baseline" x1="{WL}" y1="{y(baseline):.1f}" x2="{WL + pw}" '
                     f'y2="{y(baseline):.1f}"/><text class="tick end" x="{WL + pw - 4}" '
                     f'y="{y(baseline) - 4:.1f}">baseline {baseline:g}</text>')
    for run in runs:
        pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
        parts.append(f'<polyline class="series" points="{pts}"/>' if len(run) > 1 else
                     f'<circle class="series-dot" cx="{x(run[0][0]):.1f}" '
                     f'cy="{y(run[0][1]):.1f}" r="2.5"/>')
    parts.append(f'<text class="tick end" x="{WL - 6}" y="{WT + 4}">{hi:g}</text>'
                 f'<text class="tick end" x="{WL - 6}" y="{WT + ph + 4}">{lo:g}'
                 f'</text><text class="tick start" x="{WL}" y="{WH - 8}">0 s</text>'
                 f'<text class="tick end" x="{WL + pw}" y="{WH - 8}">'
                 f"{t_end / 1000:.1f} s</text></svg>")
    return f'<figure class="watch">{"".join(parts)}{caption}</figure>'


# --- the page ------------------------------------------------------------------------------


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])


def badge(verdict: str) -> str:
    return f'<span class="badge v-{verdict}">{VERDICT_WORDS.get(verdict, "?")}</span>'


def section_id(i: int, name: str) -> str:
    return f"s{i}-{_SLUG.sub('-', name.lower()).strip('-')[:40]}".rstrip("-")


def findings_html(findings: list[Finding], esc: Esc,
                  allowed: frozenset[str] = frozenset()) -> str:
    if not findings:
        return '<p class="nothing">Nothing wrong found.</p>'
    items = []
    for f in _sorted(findings):
        evidence = ""
        if f.evidence:
            text = json.dumps(esc.red.deep(f.evidence), ensure_ascii=False, default=str,
                              indent=1)
            evidence = (f"<details><summary>evidence</summary><pre>{esc(text, MAX_EVIDENCE)}"
                        "</pre></details>")
        items.append(
            f'<li class="finding sev-{f.severity}"><p class="fhead">'
            f'<span class="sev">{f.severity}</span> <code>{esc(f.code)}</code> '
            + ('<span class="allowed">allowed by this check</span> '
               if f.code in allowed else "")
            + f"<strong>{esc(f.title)}</strong></p><p>{esc(f.detail, 4000)}</p>"
            f'<p class="advice"><strong>What to do:</strong> {esc(f.advice)}</p>{evidence}</li>')
    return f'<ol class="findings">{"".join(items)}</ol>'


def _fact(rows: list[str], name: str, value: str) -> None:
    rows.append(f'<tr><th scope="row">{name}</th><td>{value}</td></tr>')


def facts_html(r: ScenarioResult, parts: dict[str, Any], esc: Esc) -> str:
    obs = r.observation
    conn = parts.get("connection") or {}
    stats = parts.get("stats") or {}
    rows: list[str] = []
    error = obs.unreachable if isinstance(obs, SseObservation) else conn.get("error")
    if obs is None:
        return '<p class="nothing">No connection was recorded.</p>'
    if error:
        _fact(rows, "error", f'<span class="bad">{esc(error, 600)}</span>')
    if conn.get("status") is not None:
        headers = conn.get("headers") or {}
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        reason = f" {esc(conn['reason'])}" if conn.get("reason") else ""
        _fact(rows, "response", f"{esc(conn['status'])}{reason} · "
                                f"{esc(conn.get('http_version') or '-')}"
                                + (f" · {esc(ctype, 200)}" if ctype else ""))
        first = "first message" if "messages_in" in stats else "first event"
        _fact(rows, "timing", f"headers {ms_text(_num(conn.get('headers_ms')))} · first byte "
                              f"{ms_text(_num(conn.get('ttfb_ms')))} · {first} "
                              f"{ms_text(_num(conn.get('first_event_ms')))}")
    received = []
    if "messages_in" in stats:
        received.append(f"{count(int(stats['messages_in'] or 0), 'message')} in · "
                        f"{int(stats.get('messages_out') or 0):,} out")
    else:
        received.append(f"{count(int(stats.get('events') or 0), 'event')} · "
                        f"{count(int(stats.get('comments') or 0), 'comment')}")
    received.append(f"{size_text(int(stats.get('bytes') or 0))} in "
                    f"{count(int(stats.get('chunks') or 0), 'read')}")
    gap_max = _num((stats.get("gap_ms") or {}).get("max"))
    if gap_max is not None:
        received.append(f"longest silence {ms_text(gap_max)}")
    if conn.get("status") is not None:
        _fact(rows, "received", " · ".join(received))
    close = parts.get("close")
    if isinstance(close, dict):
        ended = f"{esc(CLOSE_WORDS.get(str(close.get('by')), close.get('by')))} at " \
                f"{ms_text(_num(close.get('t_ms')))}"
        code = _int(close.get("code"))
        if code is not None:
            ended += f" · {code} {esc(closecodes.name(code))}"
        if close.get("reason"):
            ended += f" · “{esc(close['reason'], 300)}”"
        _fact(rows, "ended", ended)
    if isinstance(obs, SseObservation) and obs.body_excerpt and not obs.streamed:
        body = obs.body_excerpt.decode("utf-8", "replace")
        _fact(rows, "body", f"<pre>{esc(body, MAX_BODY)}</pre>")
    elif conn.get("body_excerpt"):
        _fact(rows, "body", f"<pre>{esc(conn['body_excerpt'], MAX_BODY)}</pre>")
    out = f'<table class="facts">{"".join(rows)}</table>' if rows else ""
    return out + _headers_html(conn, esc) + _extra_facts(conn, stats, esc)


def _headers_html(conn: dict[str, Any], esc: Esc) -> str:
    headers = conn.get("headers") or {}
    if not headers:
        return ""
    rows = [f"<tr><th scope=\"row\">{esc(k, 100)}</th><td>{esc.header(k, str(v))}</td></tr>"
            for k, v in list(headers.items())[:MAX_HEADERS]]
    more = (f"<p>{len(headers) - MAX_HEADERS} more headers not shown.</p>"
            if len(headers) > MAX_HEADERS else "")
    return (f"<details><summary>response headers ({len(headers)})</summary>"
            f'<table class="facts">{"".join(rows)}</table>{more}</details>')


_SHOWN = {"status", "http_version", "headers", "headers_ms", "ttfb_ms", "first_event_ms",
          "error", "reason", "body_excerpt", "events", "comments", "bytes", "chunks", "gap_ms",
          "messages_in", "messages_out"}


def _extra_facts(conn: dict[str, Any], stats: dict[str, Any], esc: Esc) -> str:
    """Every other field an observation kind reports (WebSocket negotiation, pings...)."""
    rows = []
    for key, value in [*conn.items(), *stats.items()]:
        if key in _SHOWN or value is None or value in ([], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append(f'<tr><th scope="row">{esc(key.replace("_", " "), 60)}</th>'
                    f"<td>{esc(text, 300)}</td></tr>")
    if not rows:
        return ""
    return (f"<details><summary>more facts</summary><table class=\"facts\">"
            f"{''.join(rows[:MAX_EXTRA_FACTS])}</table></details>")


def _value(v: Any) -> str:
    """A JSON value as short text for a person."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return " · ".join(f"{k}: {_value(x) if not isinstance(x, (dict, list)) else _json(x)}"
                          for k, x in v.items())
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return ", ".join(_value(x) for x in v)
        return _json(v)
    return str(v)


def _json(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


def _label(key: object) -> str:
    return str(key).replace("_", " ")


def steps_html(items: list[dict[str, Any]], esc: Esc) -> str:
    """Steps with a time, a text and maybe a verdict: what the experiment did, in order."""
    marks = {True: '<span class="ok" title="passed">✓</span>',
             False: '<span class="bad" title="failed">✗</span>'}
    rows = []
    for step in items[:MAX_ROWS]:
        t = _num(step.get("t_ms"))
        rows.append(f'<li><span class="t">{ms_text(t)}</span> '
                    f'{marks.get(step.get("ok"), "<span>·</span>")} '
                    f"{esc(step.get('text', ''), 400)}</li>")
    more = f"<p>{len(items) - MAX_ROWS} more steps not shown.</p>" if len(items) > MAX_ROWS else ""
    return f'<ol class="steps">{"".join(rows)}</ol>{more}'


def records_html(items: list[dict[str, Any]], esc: Esc) -> str:
    """A list of JSON records (an experiment's connections) as a table."""
    columns: list[str] = []
    for item in items[:MAX_ROWS]:
        columns.extend(k for k in item if k not in columns)
    columns = columns[:MAX_COLUMNS]
    head = "".join(f'<th scope="col">{esc(_label(c), 40)}</th>' for c in columns)
    rows = ["<tr>" + "".join(f"<td>{esc(_value(item.get(c)), 120)}</td>" for c in columns)
            + "</tr>" for item in items[:MAX_ROWS]]
    more = f"<p>{len(items) - MAX_ROWS} more not shown.</p>" if len(items) > MAX_ROWS else ""
    return (f'<div class="scroll"><table class="records"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{more}')


def experiment_html(parts: dict[str, Any], esc: Esc, key: str = "experiment",
                    title: str = "Experiment") -> str:
    """An experiment's own JSON (or a capture's, key "har"), rendered by shape: facts,
    steps, records, watched series."""
    out = []
    exp = parts.get(key)
    if isinstance(exp, dict) and exp:
        facts, blocks = [], []
        for key, value in list(exp.items())[:MAX_EXTRA_FACTS]:
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                body = (steps_html(value, esc) if all("text" in v for v in value)
                        else records_html(value, esc))
                blocks.append(f"<h4>{esc(_label(key).capitalize(), 60)}</h4>{body}")
            elif value not in (None, [], {}):
                facts.append(f'<tr><th scope="row">{esc(_label(key), 60)}</th>'
                             f"<td>{esc(_value(value), 600)}</td></tr>")
        out.append(f'<h3>{title}</h3><table class="facts">{"".join(facts)}</table>'
                   + "".join(blocks))
    elif exp:
        out.append(f"<h3>{title}</h3><p>{esc(exp, 600)}</p>")
    watches = [w for w in parts.get("watches") or [] if isinstance(w, dict)]
    if watches:
        out.append('<h3>Watched server state</h3><div class="watches">'
                   + "".join(watch_chart(w, esc) for w in watches) + "</div>")
    return "".join(out)


def timeline_for(r: ScenarioResult, parts: dict[str, Any]) -> Timeline | None:
    idle = _num(getattr(r.options, "idle_limit", None))
    if isinstance(r.observation, SseObservation):
        return sse_timeline(r.observation, idle)
    if r.observation is None:
        return None
    return generic_timeline(parts, r.observation, idle)


def timeline_html(r: ScenarioResult, parts: dict[str, Any], esc: Esc) -> str:
    tl = timeline_for(r, parts)
    if tl is None:
        status = (parts.get("connection") or {}).get("status")
        why = (f"the server answered {esc(status)} without a stream" if status is not None
               else "nothing was received")
        return f'<h3>Timeline</h3><p class="nothing">No timeline: {why}.</p>'

    n = len(tl.marks)
    svg = TimelineSvg(tl, esc, f"Timeline of {r.name}: {n} items over "
                               f"{tl.span_ms / 1000:.1f} s")
    how = (f"{n:,} items, drawn as one mark per time slice of "
           f"{tl.span_ms / max(1, MAX_MARKS // len(tl.lanes)) / 1000:.3f} s"
           if svg.aggregated else f"{n:,} items")
    note = f" ({esc(tl.note)})" if tl.note else ""
    since = "the opening handshake" if r.protocol == "ws" else "the request"
    caption = (f"<figcaption>Seconds since {since} was sent; {how}{note}. "
               "Hover a mark for its time, type, id and data.</figcaption>")
    return (f'<h3>Timeline</h3><figure class="tl">{svg.render()}{caption}'
            f"{legend(tl, svg, esc)}</figure>")


def expected_html(r: ScenarioResult, esc: Esc) -> str:
    if r.expected is None:
        return ""
    found = sorted({f.code for f in r.findings})
    ok = r.matches_expected
    return (f'<p class="expected">Expected: <code>{esc(", ".join(sorted(r.expected)) or "healthy")}'
            f"</code> · found: <code>{esc(', '.join(found) or 'nothing')}</code> · "
            + ('<strong class="ok">as expected</strong>' if ok else
               '<strong class="bad">MISMATCH</strong>') + "</p>")


def _observed_html(r: ScenarioResult, parts: dict[str, Any], esc: Esc) -> str:
    if "har" in parts:  # a browser capture: no connection of ours to show
        return experiment_html(parts, esc, "har", "Capture")
    return (f"<h3>Connection</h3>{facts_html(r, parts, esc)}"
            f"{timeline_html(r, parts, esc)}{experiment_html(parts, esc)}")


def scenario_html(i: int, r: ScenarioResult, esc: Esc, fail_on: str) -> str:
    parts = result_parts(r, esc.red)
    sid = section_id(i, r.name)
    failing = r.fails_at(fail_on)
    result = ('<strong class="bad">fails</strong>' if failing else
              '<strong class="ok">passes</strong>')
    return (f'<section class="scenario" id="{sid}" aria-labelledby="{sid}-h">'
            f'<h2 id="{sid}-h">{badge(r.verdict)} {esc(r.name, 200)}</h2>'
            f'<p class="target"><code>{esc.url(r.url)}</code> ({esc(r.protocol)}) · {result} '
            f"at --fail-on {esc(fail_on)}</p>{expected_html(r, esc)}"
            f"<h3>Findings</h3>{findings_html(r.findings, esc, r.allowed)}"
            f"{_observed_html(r, parts, esc)}"
            '<p class="back"><a href="#summary">back to the summary</a></p></section>')


def summary_html(report: Report, esc: Esc, fail_on: str) -> str:
    with_expected = any(r.expected is not None for r in report.results)
    head = ["scenario", "verdict", "findings"]
    if with_expected:
        head += ["expected", "as expected"]
    head.append(f"at --fail-on {esc(fail_on)}")
    rows = []
    for i, r in enumerate(report.results):
        codes = " ".join(f'<code class="sev-{f.severity}">{esc(f.code)}</code>'
                         for f in _sorted(r.findings)) or "-"
        cells = [f'<th scope="row"><a href="#{section_id(i, r.name)}">{esc(r.name, 200)}</a></th>',
                 f"<td>{badge(r.verdict)}</td>", f"<td>{codes}</td>"]
        if with_expected:
            if r.expected is None:
                cells += ["<td>-</td>", "<td>-</td>"]
            else:
                cells.append(f"<td><code>{esc(', '.join(sorted(r.expected)) or 'healthy')}"
                             "</code></td>")
                cells.append('<td class="ok">yes</td>' if r.matches_expected else
                             '<td class="bad">MISMATCH</td>')
        failing = r.fails_at(fail_on)
        cells.append('<td class="bad">fails</td>' if failing else '<td class="ok">passes</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    ths = "".join(f'<th scope="col">{h}</th>' for h in head)
    return (f'<section id="summary" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>'
            f'<table class="summary"><thead><tr>{ths}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def header_html(report: Report, esc: Esc, fail_on: str) -> str:
    counts = Counter(r.verdict for r in report.results)
    n_fail = sum(1 for r in report.results if r.fails_at(fail_on))
    started = report.started_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    n = len(report.results)
    by_verdict = ", ".join(f"{counts[v]} {v}" for v in ("error", "warning", "healthy")
                           if counts[v])
    return (f'<header class="top v-{report.verdict}" id="top"><p class="big">'
            f"{badge(report.verdict)}</p><h1>sse-doctor {esc(report.command)}</h1>"
            f'<dl class="meta"><dt>target</dt><dd><code>{esc.url(report.url)}</code> '
            f"({esc(report.protocol)})</dd><dt>started</dt><dd>{started}</dd>"
            f"<dt>took</dt><dd>{report.duration_s:.1f} s</dd>"
            f"<dt>scenarios</dt><dd>{n}{f' ({by_verdict})' if by_verdict else ''}</dd>"
            f"<dt>--fail-on {esc(fail_on)}</dt><dd>{n_fail} of {n} "
            f"{'fails' if n_fail == 1 else 'fail'}</dd></dl></header>")


CSS = """
:root{--err:#b42318;--warn:#a15c07;--info:#1d4ed8;--ok:#067647;--ink:#1f2328;--mute:#57606a;
--line:#d0d7de;--bg:#fff;--soft:#f6f8fa}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact;box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg);margin:0}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{margin:.1em 0 .3em;font-size:1.6em}h2{margin:1.6em 0 .4em;font-size:1.3em}
h3{margin:1.2em 0 .3em;font-size:1.05em;color:var(--mute);text-transform:uppercase;
letter-spacing:.04em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-all;background:var(--soft);padding:8px;margin:4px 0}
a{color:var(--info)}
.top{border-left:8px solid var(--line);padding:8px 16px;background:var(--soft)}
.top.v-error{border-color:var(--err)}.top.v-warning{border-color:var(--warn)}
.top.v-healthy{border-color:var(--ok)}
.big{margin:0}.big .badge{font-size:1.2em;padding:3px 12px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
.meta dt{color:var(--mute)}.meta dd{margin:0;word-break:break-all}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;font-weight:700;font-size:.8em;
color:#fff;vertical-align:middle;letter-spacing:.03em}
.badge.v-error{background:var(--err)}.badge.v-warning{background:var(--warn)}
.badge.v-healthy{background:var(--ok)}
table{border-collapse:collapse}
.summary{width:100%}.summary th,.summary td{border-bottom:1px solid var(--line);padding:4px 8px;
text-align:left;vertical-align:top}
.summary thead th{color:var(--mute);font-weight:600}
code.sev-error{color:var(--err)}code.sev-warning{color:var(--warn)}code.sev-info{color:var(--info)}
.ok{color:var(--ok)}.bad{color:var(--err)}
.scenario{border-top:2px solid var(--line);margin-top:24px}
.target{margin:0;color:var(--mute);word-break:break-all}
.findings{padding-left:1.4em}.finding{margin:0 0 12px;padding:4px 10px;border-left:4px solid
var(--line)}.finding p{margin:2px 0}
.finding.sev-error{border-color:var(--err)}.finding.sev-warning{border-color:var(--warn)}
.finding.sev-info{border-color:var(--info)}
.sev{font-weight:700;text-transform:uppercase;font-size:.8em}
.allowed{font-size:.8em;color:var(--mute);border:1px solid var(--line);padding:0 4px}
.sev-error .sev{color:var(--err)}.sev-warning .sev{color:var(--warn)}
.sev-info .sev{color:var(--info)}
.advice{color:var(--ok)}.advice strong{color:var(--ink)}
.facts th{text-align:left;font-weight:normal;color:var(--mute);padding:1px 16px 1px 0;
vertical-align:top;white-space:nowrap}.facts td{padding:1px 0;word-break:break-all}
details{margin:6px 0}summary{cursor:pointer;color:var(--mute)}
figure{margin:8px 0}figcaption{color:var(--mute);font-size:.9em}
svg.timeline{width:100%;height:auto;display:block;font:11px system-ui,sans-serif}
.lane0{fill:#f6f8fa}.lane1{fill:#eef1f4}
.lanelabel{text-anchor:end;fill:var(--mute)}.tick{fill:var(--mute);text-anchor:middle}
.tick.end{text-anchor:end}.tick.start{text-anchor:start}
.axis{stroke:#8c959f;stroke-width:1}
.gap rect,.gapkey rect{fill:#f59e0b;fill-opacity:.28}.gap text{fill:#7a4a00;
text-anchor:middle;font-weight:700}
.close line{stroke:#1f2328;stroke-width:2}.close text{fill:#1f2328;font-weight:600}
.close-transport line{stroke:var(--err)}.close-transport text{fill:var(--err)}
.close-deadline line,.close-client line{stroke:#57606a;stroke-dasharray:4 3}
.closekey rect{fill:#1f2328}
.c0{fill:#0072b2}.c1{fill:#d55e00}.c2{fill:#009e73}.c3{fill:#cc79a7}.c4{fill:#e69f00}
.c5{fill:#56b4e9}.c6{fill:#8c564b}.c7{fill:#6a3d9a}.ot{fill:#9aa0a6}
.cm{fill:#6e7781}.rd{fill:#bcc3cb}.cl{fill:#1f2328}.pg{fill:#8250df}
.stack{fill:var(--ink);font-weight:700}
.mk:hover{stroke:#000;stroke-width:1.5}
.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 18px;
font-size:.9em}.sw{vertical-align:-1px}
.watches{display:flex;flex-wrap:wrap;gap:12px}.watch{width:460px;max-width:100%}
svg.watchchart{width:100%;height:auto;font:11px system-ui,sans-serif}
.series{fill:none;stroke:#0072b2;stroke-width:2}
.baseline{stroke:var(--ok);stroke-dasharray:5 4;stroke-width:1.5}
.series-dot{fill:#0072b2}.moment{stroke:#8c959f;stroke-dasharray:2 3}
h4{margin:.8em 0 .2em;font-size:1em}
.steps{padding-left:1.6em;margin:4px 0}.steps .t{color:var(--mute);display:inline-block;
min-width:5em;text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}.records{font-size:.9em}.records th,.records td{border-bottom:1px solid
var(--line);padding:2px 8px;text-align:left;vertical-align:top}
.records thead th{color:var(--mute);font-weight:600}
.nothing{color:var(--mute)}
footer{color:var(--mute);font-size:.85em;margin-top:32px}
@media print{body{font-size:12px}main{max-width:none;padding:0}.back{display:none}
figure,.finding,tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""

# Printing a page does not open <details>: open them all first (the page reads without it).
PRINT_JS = ('addEventListener("beforeprint",function(){'
            'document.querySelectorAll("details").forEach(function(d){d.open=true})});')


def render(report: Report, redactor: Redactor, fail_on: str = "error") -> str:
    """The whole HTML document for ``report``: verdict, summary, one section per scenario."""
    esc = Esc(redactor)
    title = f"sse-doctor {report.command}: {report.verdict} · {redactor.url(report.url)}"
    body = (header_html(report, esc, fail_on) + summary_html(report, esc, fail_on)
            + "".join(scenario_html(i, r, esc, fail_on) for i, r in enumerate(report.results)))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>{esc(title, 300)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}"
        f'<footer>sse-doctor {esc(__version__)} · times are milliseconds (ms) or seconds (s) '
        "since the request was sent</footer></main>"
        f"<script>{PRINT_JS}</script></body></html>\n"
    )
