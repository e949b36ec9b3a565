"""The HTML page's charts as inline SVG: a scenario's timeline (with its legend) and a watched
series against its baseline. Pure: data in, markup out.

The templates autoescape everything else; what this module returns is ``Markup``, so it
escapes every text it writes itself (markupsafe.escape), after redacting, cutting and cleaning
it like any page text (report/text.py).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from sse_doctor.redact import Redactor
from sse_doctor.report.html_text import Shown, integer, num, one_line, seconds, shown
from sse_doctor.report.timeline import (
    CLOSE_WORDS,
    MAX_MARKS,
    Mark,
    Timeline,
    describe,
    palette,
    typed_counts,
)
from sse_doctor.units import same_unit
from sse_doctor.ws import closecodes

MAX_WATCH_POINTS = 400  # points per watched-series chart (min/max per slice beyond it)

# Timeline geometry, in viewBox units.
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


@dataclass(frozen=True)
class LegendItem:
    cls: str  # the swatch's CSS class
    label: Shown
    round_: bool = False


class TimelineChart:
    """One timeline drawn: the SVG, and the legend that explains its colours."""

    def __init__(self, tl: Timeline, red: Redactor, title: str) -> None:
        self.tl, self.red, self.title = tl, red, title
        self.plot_w = W - LEFT - RIGHT
        self.height = TOP + LANE_H * len(tl.lanes) + AXIS_H
        self.colours = palette(tl)
        self.aggregated = len(tl.marks) > MAX_MARKS

    def _t(self, value: object, limit: int | None = None) -> str:
        return escape(shown(self.red, value, limit))

    def x(self, t_ms: float) -> float:
        return LEFT + max(0.0, min(t_ms, self.tl.span_ms)) / self.tl.span_ms * self.plot_w

    def cls(self, m: Mark) -> str:
        lane = self.tl.lanes[m.lane]
        return lane.fixed or lane.known_cls(m.kind) or self.colours.get(m.kind, "ot")

    def svg(self) -> Markup:
        tl = self.tl
        out = [f'<svg class="timeline" viewBox="0 0 {W} {self.height}" role="img" '
               f'preserveAspectRatio="xMinYMin meet"><title>{self._t(self.title)}</title>']
        bottom = TOP + LANE_H * len(tl.lanes)
        for i, lane in enumerate(tl.lanes):
            y = TOP + i * LANE_H
            out.append(f'<rect class="lane{i % 2}" x="{LEFT}" y="{y}" width="{self.plot_w}" '
                       f'height="{LANE_H}"/>')
            out.append(f'<text class="lanelabel" x="{LEFT - 8}" y="{y + LANE_H / 2 + 4}">'
                       f'{self._t(lane.label)}</text>')
        out.extend(self._gaps(bottom))
        out.extend(self._aggregated() if self.aggregated else self._marks())
        out.extend(self._close(bottom))
        out.extend(self._axis(bottom))
        out.append("</svg>")
        return Markup("".join(out))

    def _gaps(self, bottom: float) -> list[str]:
        out = []
        for a, b in self.tl.gaps:
            x0, x1 = self.x(a), self.x(b)
            length, start, end = same_unit(b - a, a, b)
            tip = (f"silent for {length}, from {start} to {end}: longer than "
                   f"the idle limit of {(self.tl.idle_limit_ms or 0) / 1000:g} s")
            out.append(f'<g class="gap"><title>{self._t(tip)}</title>'
                       f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{bottom - TOP}"/>')
            if x1 - x0 >= 44:
                out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{(TOP + bottom) / 2 + 4:.1f}">'
                           f'{length}</text>')
            out.append("</g>")
        return out

    def _tip(self, m: Mark) -> str:
        lane = self.tl.lanes[m.lane]
        head = f"{seconds(m.t_ms)} · {m.kind if lane.fixed is None else lane.label[:-1]}"
        facts, body = describe(m.src)
        excerpt = one_line(self.red.text(body)) if body is not None else ""
        return " · ".join(p for p in (head, facts, excerpt) if p)

    def _marks(self) -> list[str]:
        out = []
        for m in self.tl.marks:
            x = self.x(m.t_ms)
            y = TOP + m.lane * LANE_H
            tip = f"<title>{self._t(self._tip(m))}</title>"
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
                       f"<title>{self._t(tip)}</title></rect>")
        return out

    def _close(self, bottom: float) -> list[str]:
        c = self.tl.close
        if not c or num(c.get("t_ms")) is None:
            return []
        x = self.x(float(c["t_ms"]))
        by = str(c.get("by"))
        label = CLOSE_WORDS.get(by, f"closed ({by})")
        code = integer(c.get("code"))
        if code is not None:
            label += f" · {code} {closecodes.name(code)}"
        tip = f"{seconds(float(c['t_ms']))} · {label}"
        if c.get("reason"):
            tip += f" · {one_line(str(c['reason']))}"
        anchor, dx = ("end", -4) if x > LEFT + self.plot_w * 0.6 else ("start", 4)
        by_cls = by if by in CLOSE_WORDS else "other"
        return [f'<g class="close close-{by_cls}"><title>{self._t(tip)}</title>'
                f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}"/>'
                f'<text x="{x + dx:.1f}" y="{TOP - 8}" text-anchor="{anchor}">'
                f"{self._t(label, 60)}</text></g>"]

    def _axis(self, bottom: float) -> list[str]:
        out = [f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{LEFT + self.plot_w}" '
               f'y2="{bottom}"/>']
        for s in nice_ticks(self.tl.span_ms / 1000):
            x = self.x(s * 1000)
            out.append(f'<line class="axis" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" '
                       f'y2="{bottom + 5}"/><text class="tick" x="{x:.1f}" y="{bottom + 18}">'
                       f"{s:g} s</text>")
        return out

    def legend(self) -> list[LegendItem]:
        """What each colour and shape means, with how many marks have it."""
        tl, red = self.tl, self.red
        items = []
        typed = typed_counts(tl)
        for kind, cls in self.colours.items():
            items.append(LegendItem(cls, Shown(f"{shown(red, kind, 40)} ({typed[kind]:,})")))
        others = sum(n for k, n in typed.items() if k not in self.colours)
        if others:
            items.append(LegendItem("ot", Shown(f"other types ({others:,})")))
        known: Counter[str] = Counter()
        for lane, kinds in zip(tl.lanes, tl.kinds):
            for kind, n in kinds.items():
                cls = lane.known_cls(kind)
                if cls is not None:
                    known[cls] += n
        for cls, what in (("cl", "close frame"), ("pg", "ping/pong")):
            if known[cls]:
                items.append(LegendItem(cls, Shown(f"{what} ({known[cls]:,})"), cls == "pg"))
        for i, lane in enumerate(tl.lanes):
            if lane.fixed:
                n = sum(tl.kinds[i].values())
                items.append(LegendItem(lane.fixed, Shown(f"{shown(red, lane.label[:-1])} ({n:,})"),
                                        True))
        if tl.gaps:
            items.append(LegendItem("gapkey", Shown(
                f"silence over the idle limit of {(tl.idle_limit_ms or 0) / 1000:g} s "
                f"({len(tl.gaps)})")))
        if tl.close:
            by = str(tl.close.get("by"))
            items.append(LegendItem("closekey",
                                    Shown(f"end: {shown(red, CLOSE_WORDS.get(by, by), 40)}")))
        return items


def swatch(cls: str, round_: bool = False) -> Markup:
    """A legend's colour sample: the class it explains, drawn as a bar or a dot."""
    shape = ('<circle cx="6" cy="6" r="4"/>' if round_ else
             '<rect x="1" y="1" width="10" height="10"/>')
    return Markup(f'<svg class="sw {escape(cls)}" width="12" height="12" viewBox="0 0 12 12" '
                  f'aria-hidden="true">{shape}</svg>')


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


def segments(raw: Any) -> list[list[tuple[float, float]]]:
    """Runs of readable samples; a failed reading (value null) breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    points = sorted((p for p in raw or [] if isinstance(p, (list, tuple)) and len(p) == 2
                     and num(p[0]) is not None), key=lambda p: p[0])
    for t, v in points:
        if num(v) is None:
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


def watch_chart(w: dict[str, Any], red: Redactor) -> Markup | None:
    """A watched value over time, with its baseline and the moments the actions ended and the
    value settled; None when there is no reading to draw."""
    runs = segments(w.get("samples"))
    baseline = num(w.get("baseline"))
    values = [v for run in runs for _, v in run] + ([baseline] if baseline is not None else [])
    if not values:
        return None
    name = escape(shown(red, w.get("name", "watched value"), 200))
    lo, hi = min(values), max(values)
    if hi == lo:
        # A flat series: an axis around it that never goes below 0 for counts that
        # cannot (all zero: 0..1, not -1..1).
        lo, hi = (0.0, max(1.0, 2 * hi)) if lo >= 0 else (lo - 1, hi + 1)
    end_ms, settled_ms = num(w.get("end_ms")), num(w.get("settled_ms"))
    t_end = max([t for run in runs for t, _ in run] + [end_ms or 0.0, settled_ms or 0.0]) or 1.0
    pw, ph = WW - WL - WR, WH - WT - WB

    def x(t: float) -> float:
        return WL + t / t_end * pw

    def y(v: float) -> float:
        return WT + (hi - v) / (hi - lo) * ph

    parts = [f'<svg class="watchchart" viewBox="0 0 {WW} {WH}" role="img">'
             f"<title>{name} over time</title>",
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
    return Markup("".join(parts))


def level_chart(name: str, xs: list[float], lines: list[tuple[str, list[float | None]]],
                knee: float | None, red: Redactor) -> Markup | None:
    """A sweep (load --profile llm): values by level, levels evenly spaced (1, 2, 4, 8...),
    one polyline per line, a dashed line at the knee; None when there is nothing to draw."""
    values = [v for _, vs in lines for v in vs if v is not None]
    if not xs or not values:
        return None
    lo, hi = 0.0, max(values) or 1.0
    pw, ph = WW - WL - WR, WH - WT - WB
    n = len(xs)

    def x(i: int) -> float:
        return WL + (i / (n - 1) * pw if n > 1 else pw / 2)

    def y(v: float) -> float:
        return WT + (hi - v) / (hi - lo) * ph

    title = escape(shown(red, name, 200))
    parts = [f'<svg class="watchchart levelchart" viewBox="0 0 {WW} {WH}" role="img">'
             f"<title>{title} by level</title>",
             f'<rect class="lane0" x="{WL}" y="{WT}" width="{pw}" height="{ph}"/>']
    if knee is not None and knee in xs:
        kx = x(xs.index(knee))
        parts.append(f'<line class="moment" x1="{kx:.1f}" y1="{WT}" x2="{kx:.1f}" '
                     f'y2="{WT + ph}"/><text class="tick end" x="{kx - 3:.1f}" '
                     f'y="{WT - 6}">knee</text>')
    for k, (label, vs) in enumerate(lines):
        pts = [(x(i), y(v)) for i, v in enumerate(vs) if v is not None]
        cls = "series" if k == 0 else "series second"
        if len(pts) > 1:
            parts.append(f'<polyline class="{cls}" points="'
                         + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        for px, py in pts:
            parts.append(f'<circle class="series-dot" cx="{px:.1f}" cy="{py:.1f}" r="2.5">'
                         f"<title>{escape(shown(red, label, 60))}</title></circle>")
        end = pts[-1] if pts else None
        if end is not None:
            parts.append(f'<text class="tick end" x="{end[0] - 4:.1f}" y="{end[1] - 5:.1f}">'
                         f"{escape(shown(red, label, 60))}</text>")
    parts.append(f'<text class="tick end" x="{WL - 6}" y="{WT + 4}">{hi:.4g}</text>'
                 f'<text class="tick end" x="{WL - 6}" y="{WT + ph + 4}">0</text>')
    for i, level in enumerate(xs):
        parts.append(f'<text class="tick" x="{x(i):.1f}" y="{WH - 8}">{level:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
