"""Fixed-memory histograms with log-linear buckets (HDR-style), for millisecond figures.

Written by hand because the load engine records millions of values across worker processes:
each histogram is one flat list of counts that merges by adding, ships to the parent as a
sparse dict, and answers percentiles to about 3 % whatever the number of values. (The
``hdrhistogram`` package does the same with a C core but adds a build dependency; a heartbeat
costs one ``frexp`` and one list increment here.)
"""

from __future__ import annotations

import math
from typing import Any

SUB = 32  # buckets per power of two: ~2.2 % relative width
LOW_EXP = -10  # values below 2**-10 ms (~1 µs) share bucket 0
HIGH_EXP = 22  # values from 2**22 ms (~70 min) up share the last bucket
SIZE = (HIGH_EXP - LOW_EXP) * SUB + 2  # + the underflow and overflow buckets


def bucket_of(ms: float) -> int:
    """The bucket index of a value in milliseconds (negative values count as 0)."""
    if ms <= 0.0:
        return 0
    m, e = math.frexp(ms)  # ms = m * 2**e, 0.5 <= m < 1
    if e <= LOW_EXP:
        return 0
    if e > HIGH_EXP:
        return SIZE - 1
    return (e - 1 - LOW_EXP) * SUB + int((m - 0.5) * 2 * SUB) + 1


def bucket_bounds(i: int) -> tuple[float, float]:
    """[low, high) in milliseconds of bucket ``i``."""
    if i <= 0:
        return 0.0, 2.0 ** LOW_EXP
    if i >= SIZE - 1:
        return 2.0 ** HIGH_EXP, math.inf
    e, sub = divmod(i - 1, SUB)
    base = 2.0 ** (e + LOW_EXP)
    return base * (1 + sub / SUB), base * (1 + (sub + 1) / SUB)


class Histogram:
    """Counts per bucket plus the exact count, maximum and sum."""

    __slots__ = ("counts", "count", "max", "total")

    def __init__(self) -> None:
        self.counts = [0] * SIZE
        self.count = 0
        self.max = 0.0
        self.total = 0.0

    def record(self, ms: float) -> None:
        self.counts[bucket_of(ms)] += 1
        self.count += 1
        self.total += ms
        if ms > self.max:
            self.max = ms

    def add(self, i: int, ms: float) -> None:
        """record() with the bucket already known (a value going into several histograms)."""
        self.counts[i] += 1
        self.count += 1
        self.total += ms
        if ms > self.max:
            self.max = ms

    def merge(self, other: Histogram) -> None:
        if not other.count:
            return
        counts = self.counts
        for i, n in enumerate(other.counts):
            if n:
                counts[i] += n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float | None:
        """The value below which a share ``q`` (0..1) of the recorded values fall: the middle
        of the bucket holding that rank, never above the exact maximum."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                low, high = bucket_bounds(i)
                mid = self.max if high == math.inf else (low + high) / 2
                return min(mid, self.max)
        return self.max  # pragma: no cover - counts add up to count

    def summary(self) -> dict[str, Any]:
        """The JSON form: p50, p95, p99, max (ms, 2 decimals) and count."""
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)
        return {"p50": r(self.percentile(0.5)), "p95": r(self.percentile(0.95)),
                "p99": r(self.percentile(0.99)), "max": r(self.max if self.count else None),
                "count": self.count}

    # --- crossing a process boundary ------------------------------------------------------------
    def to_wire(self) -> dict[str, Any]:
        return {"b": {i: n for i, n in enumerate(self.counts) if n}, "n": self.count,
                "max": self.max, "sum": self.total}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Histogram:
        h = cls()
        for i, n in d["b"].items():
            h.counts[int(i)] = n
        h.count, h.max, h.total = d["n"], d["max"], d["sum"]
        return h

    def clear(self) -> None:
        if self.count:
            self.counts = [0] * SIZE
            self.count = 0
            self.max = 0.0
            self.total = 0.0
