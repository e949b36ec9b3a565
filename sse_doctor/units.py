"""Durations and sizes written for people, the same way in every output."""

from __future__ import annotations

import math


def ms_text(ms: float | None) -> str:
    """Milliseconds below 10 s, seconds above; '-' when unknown."""
    if ms is None:
        return "-"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of a header, by case-insensitive name."""
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1) of values; None for none."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))
    return s[k]


def same_unit(*values_ms: float) -> tuple[str, ...]:
    """Durations that stand in one sentence, in one unit: milliseconds while the largest is
    under a second, seconds (one decimal) from there ('from 3.5 s to 43.5 s', never
    '3500 ms to 43.5 s')."""
    if max(values_ms, default=0.0) < 1000:
        return tuple(f"{v:.0f} ms" for v in values_ms)
    return tuple(f"{v / 1000:.1f} s" for v in values_ms)


def rate_text(per_s: float, unit: str = "/s") -> str:
    """A rate rounded as people read it: '152/s', '15.2/s', '1.52/s', '0.05/s'."""
    if per_s >= 100:
        return f"{per_s:.0f}{unit}"
    if per_s >= 10:
        return f"{per_s:.1f}{unit}"
    return f"{per_s:.2g}{unit}" if per_s < 1 else f"{per_s:.2f}{unit}"
