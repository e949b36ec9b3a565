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
