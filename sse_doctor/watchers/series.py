"""A watched value over time: bounded samples, its baseline, whether it came back, and a
sparkline for the terminal."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from sse_doctor.redact import Redactor

MAX_SAMPLES = 10_000  # per series in memory (about 33 min at 5 Hz); halved evenly beyond
MAX_ERRORS = 20  # per series: the first ones, and the last slot keeps the latest
JSON_SAMPLES = 300  # samples per series in JSON output
# Readings at or below baseline, in a row after the end, before settle() stops early: the
# first one may have been served before the server even noticed the experiment ended.
CONFIRM_READINGS = 2
_BARS = "▁▂▃▄▅▆▇█"


def _number(v: float) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def downsample_indices(values: list[float | None], limit: int,
                       keep: Iterable[int] = ()) -> list[int]:
    """Evenly spaced indices, at most ``limit``, always with the first, the last, the peak
    and any ``keep`` index."""
    n = len(values)
    if n <= limit:
        return list(range(n))
    must = {0, n - 1, *(i for i in keep if 0 <= i < n)}
    good = [(v, i) for i, v in enumerate(values) if v is not None]
    if good:
        must.add(max(good)[1])
    slots = max(limit - len(must), 2)
    even = {round(k * (n - 1) / (slots - 1)) for k in range(slots)}
    chosen = sorted(must | even)
    while len(chosen) > limit:  # rounding collisions can leave one or two too many
        drop = next(i for i in chosen[1:-1] if i not in must)
        chosen.remove(drop)
    return chosen


@dataclass
class Series:
    name: str  # human label, e.g. 'lab_pending_sessions{route="leaky-session"}'
    kind: str  # metric | json | port
    source: str  # URL (unredacted; renderers redact) or "port 8000"
    samples: list[tuple[float, float | None]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)  # bounded (MAX_ERRORS)
    baseline: float | None = None
    # First t_ms after the end from which every reading stayed <= baseline (kept exactly as
    # samples arrive, so downsampling cannot move it).
    settled_ms: float | None = None
    end_ms: float | None = None  # when the experiment's actions ended (mark_end)
    error_count: int = 0

    def add(self, t_ms: float, value: float | None, error: str | None = None) -> None:
        self.samples.append((t_ms, value))
        if error is not None:
            self.error_count += 1
            if len(self.errors) < MAX_ERRORS:
                self.errors.append((t_ms, error))
            else:
                self.errors[-1] = (t_ms, error)
        self._track(t_ms, value)
        if len(self.samples) > MAX_SAMPLES:
            self._compact()

    def _track(self, t_ms: float, value: float | None) -> None:
        """Move settled_ms for one reading: set at a return, cleared when it rises again."""
        if value is None or self.end_ms is None or t_ms < self.end_ms:
            return
        if self.baseline is not None and value <= self.baseline:
            if self.settled_ms is None:
                self.settled_ms = t_ms
        else:
            self.settled_ms = None

    def _compact(self) -> None:
        values = [v for _, v in self.samples]
        keep = [i for i, (t, _) in enumerate(self.samples) if t == self.settled_ms]
        idx = downsample_indices(values, MAX_SAMPLES // 2, keep)
        self.samples = [self.samples[i] for i in idx]

    def mark_end(self, end_ms: float) -> None:
        self.end_ms = end_ms
        self.settled_ms = None
        for t, v in self.samples:
            self._track(t, v)

    # -- summaries ---------------------------------------------------------------------------

    def good_after_end(self) -> list[tuple[float, float]]:
        """Good readings taken after the end (all good readings before mark_end)."""
        start = self.end_ms if self.end_ms is not None else -math.inf
        return [(t, v) for t, v in self.samples if v is not None and t >= start]

    def final(self) -> float | None:
        for _, v in reversed(self.samples):
            if v is not None:
                return v
        return None

    def peak(self) -> float | None:
        good = [v for _, v in self.samples if v is not None]
        if self.baseline is not None:
            good.append(self.baseline)
        return max(good) if good else None

    def returned(self) -> bool:
        """The last good reading is back at or below baseline. Once the end is marked only
        readings after it count: an unreadable watch after the experiment is no pass."""
        if self.baseline is None:
            return False
        after = self.good_after_end()
        return bool(after) and after[-1][1] <= self.baseline

    def confirmed_back(self, readings: int = CONFIRM_READINGS) -> bool:
        """The last ``readings`` readings after the end were all good and <= baseline."""
        if self.baseline is None or self.end_ms is None:
            return False
        n = 0
        for t, v in reversed(self.samples):
            if t < self.end_ms or v is None or v > self.baseline:
                break
            n += 1
            if n >= readings:
                return True
        return False

    def last_error(self) -> str | None:
        return self.errors[-1][1] if self.errors else None

    def to_json(self, redactor: Redactor) -> dict[str, Any]:
        values = [v for _, v in self.samples]
        keep = [i for i, (t, _) in enumerate(self.samples) if t == self.settled_ms]
        idx = downsample_indices(values, JSON_SAMPLES, keep)
        source = redactor.url(self.source) if self.kind != "port" else self.source

        def num(v: float | None) -> float | int | None:
            if v is None:
                return None
            return int(v) if float(v).is_integer() and abs(v) < 2**53 else v

        return {
            "name": redactor.text(self.name),
            "kind": self.kind,
            "source": source,
            "baseline": num(self.baseline),
            "final": num(self.final()),
            "peak": num(self.peak()),
            "returned": self.returned(),
            "settled_ms": None if self.settled_ms is None else round(self.settled_ms, 1),
            "end_ms": None if self.end_ms is None else round(self.end_ms, 1),
            "samples": [[round(self.samples[i][0], 1), num(self.samples[i][1])] for i in idx],
            "sample_count": len(self.samples),
            "errors": [{"t_ms": round(t, 1), "error": redactor.text(e)}
                       for t, e in self.errors],
            "error_count": self.error_count,
        }


def sparkline(series: Series, width: int = 32) -> Text:
    """One line for the terminal: bars over the samples, then baseline, peak and final."""
    values = [v for _, v in series.samples]
    cols: list[float | None] = []
    if values:
        # Each column shows the highest reading it covers, so a short spike stays visible.
        n = min(width, len(values))
        for c in range(n):
            chunk = values[c * len(values) // n:(c + 1) * len(values) // n]
            good = [v for v in chunk if v is not None]
            cols.append(max(good) if good else None)
    good_cols = [v for v in cols if v is not None]
    lo = min(good_cols + ([series.baseline] if series.baseline is not None else []), default=0)
    hi = max(good_cols + ([series.baseline] if series.baseline is not None else []), default=0)
    ok = series.returned()
    text = Text()
    for v in cols:
        if v is None:
            text.append("·", style="dim red")
            continue
        level = 0 if hi == lo else round((v - lo) / (hi - lo) * (len(_BARS) - 1))
        above = series.baseline is not None and v > series.baseline
        text.append(_BARS[level], style="yellow" if above else "green")

    def fmt(v: float | None) -> str:
        return "?" if v is None else _number(v)

    text.append(f"  {series.name}: {fmt(series.baseline)} before, peak {fmt(series.peak())}, "
                f"now {fmt(series.final())}")
    if ok and series.settled_ms is not None and series.end_ms is not None:
        text.append(f", back {(series.settled_ms - series.end_ms) / 1000:.1f} s after the end",
                    style="green")
    elif ok:
        text.append(", back at baseline", style="green")
    elif series.end_ms is not None and not series.good_after_end():
        text.append(", unreadable after the end", style="bold red")
    else:
        text.append(", not back", style="bold red")
    return text
