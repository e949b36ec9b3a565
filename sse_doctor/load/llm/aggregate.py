"""A level's figures (one concurrency or one arrival rate): percentiles of every per-request
metric, tokens and requests per second, goodput against the objectives, failures by kind with
a few examples; and the sweep's knee. Pure and fixed-memory: each metric goes into one of the
load engine's log-linear histograms (about 2 % per value), so a level of a million requests
costs what a level of ten does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.load.histogram import Histogram
from sse_doctor.load.llm.record import RequestRecord

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
METRICS = ("ttft_ms", "first_answer_ms", "itl_ms", "tpot_ms", "e2e_ms")
EXAMPLES = 3  # example requests kept per failure kind
# The knee with no --slo: the level where TTFT p90 is KNEE_RATIO times the first level's p50
# and at least KNEE_MIN_MS more (a 2 -> 5 ms wobble on loopback is no knee). p90 and p50, not
# p99: with a few dozen requests a level's p99 is its slowest request, and one cold connection
# or a busy machine's hiccup must not make (or hide) a knee.
KNEE_RATIO = 2.0
KNEE_MIN_MS = 50.0
GOODPUT_TARGET = 0.9  # with --slo: a level whose goodput share falls below this is past the knee
SLO_KEYS = {"ttft": "ttft_ms", "answer": "first_answer_ms", "itl": "itl_ms", "tpot": "tpot_ms",
            "e2e": "e2e_ms"}


def parse_slo(text: str | None) -> dict[str, float]:
    """'ttft=500ms,itl=50ms' -> {"ttft_ms": 500.0, "itl_ms": 50.0}; ValueError when bad.
    Values in ms (the default unit) or s."""
    out: dict[str, float] = {}
    if not text:
        return out
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s)?\s*", value)
        if not sep or key.strip() not in SLO_KEYS or m is None:
            raise ValueError(f"--slo: {part.strip()!r} is not NAME=VALUE with NAME one of "
                             f"{', '.join(SLO_KEYS)} and VALUE like 500ms or 1.5s")
        ms = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
        if ms <= 0:
            raise ValueError(f"--slo: {key.strip()} must be greater than 0")
        out[SLO_KEYS[key.strip()]] = ms
    return out


def meets(rec: RequestRecord, slo: dict[str, float]) -> bool:
    """A successful request that met every objective (a metric it lacks does not meet it,
    except ITL and TPOT of a one-token answer, which have none to miss)."""
    if not rec.ok:
        return False
    for metric, limit in slo.items():
        value = getattr(rec, metric)
        if value is None:
            if metric in ("itl_ms", "tpot_ms") and rec.output_tokens <= 1:
                continue
            return False
        if value > limit:
            return False
    return True


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def _level(x: float) -> float | int:
    """A level as JSON: concurrencies (and whole rates) as integers."""
    return int(x) if float(x).is_integer() else x


def summary(h: Histogram) -> dict[str, Any]:
    out: dict[str, Any] = {name: _r(h.percentile(q), 2) for name, q in QUANTILES}
    out["max"] = _r(h.max, 2) if h.count else None
    out["mean"] = _r(h.total / h.count, 2) if h.count else None
    out["count"] = h.count
    return out


@dataclass
class Level:
    """Everything one level counted."""

    level: float  # the concurrency, or the arrival rate (requests/s)
    mode: str  # "concurrency" | "rate"
    slo: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    good: int = 0
    output_tokens: int = 0  # of the successful requests
    usage_reported: int = 0
    discrepancies: int = 0  # requests whose usage and counted deltas differ
    discrepancy_tokens: int = 0  # sum of |usage - counted|
    reasoning_deltas: int = 0
    tool_call_deltas: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict]] = field(default_factory=dict)
    finish_reasons: dict[str, int] = field(default_factory=dict)
    hist: dict[str, Histogram] = field(default_factory=lambda: {m: Histogram() for m in METRICS})
    gaps: Histogram = field(default_factory=Histogram)  # every inter-token gap, all requests
    backlog: int = 0  # open loop: arrivals that waited for an in-flight slot of ours

    def add(self, rec: RequestRecord) -> None:
        self.requests += 1
        if rec.outcome == "cancelled":
            self.cancelled += 1
            return
        if not rec.ok:
            self.failed += 1
            kind = rec.kind or "unknown"
            self.failures[kind] = self.failures.get(kind, 0) + 1
            kept = self.examples.setdefault(kind, [])
            if len(kept) < EXAMPLES:
                kept.append(rec.example())
            return
        self.succeeded += 1
        self.good += meets(rec, self.slo)
        self.output_tokens += rec.output_tokens
        self.reasoning_deltas += rec.reasoning_deltas
        self.tool_call_deltas += rec.tool_call_deltas
        if rec.usage_tokens is not None:
            self.usage_reported += 1
            diff = abs(rec.usage_tokens - rec.counted_deltas)
            if diff:
                self.discrepancies += 1
                self.discrepancy_tokens += diff
        if rec.finish_reason is not None:
            self.finish_reasons[rec.finish_reason] = \
                self.finish_reasons.get(rec.finish_reason, 0) + 1
        for m in ("ttft_ms", "first_answer_ms", "tpot_ms", "e2e_ms"):
            v = getattr(rec, m)
            if v is not None:
                self.hist[m].record(v)
        if rec.itl_ms is not None:
            self.hist["itl_ms"].record(rec.itl_ms)
        for g in rec.gaps:
            self.gaps.record(g)

    # --- figures ------------------------------------------------------------------------------
    def p(self, metric: str, q: float) -> float | None:
        h = self.gaps if metric == "itl_ms" else self.hist[metric]
        return h.percentile(q)

    @property
    def decided(self) -> int:
        """Requests that succeeded or failed (cancelled ones are neither)."""
        return self.succeeded + self.failed

    @property
    def tokens_per_s(self) -> float | None:
        return self.output_tokens / self.elapsed_s if self.elapsed_s > 0 else None

    @property
    def goodput_share(self) -> float | None:
        return self.good / self.decided if self.decided else None

    def to_json(self) -> dict[str, Any]:
        def per_s(n: int) -> float | None:
            return _r(n / self.elapsed_s, 2) if self.elapsed_s > 0 else None

        metrics = {m: summary(self.hist[m]) for m in METRICS}
        metrics["itl_ms"] = summary(self.gaps)  # every gap, as vLLM's ITL
        metrics["itl_ms"]["per_request_mean"] = summary(self.hist["itl_ms"])
        share = self.goodput_share
        return {
            self.mode: _level(self.level),
            "elapsed_s": _r(self.elapsed_s, 3),
            "requests": self.requests, "succeeded": self.succeeded, "failed": self.failed,
            "cancelled": self.cancelled,
            "requests_per_s": per_s(self.decided),
            "output_tokens_per_s": per_s(self.output_tokens),
            "metrics": metrics,
            "output_tokens": {"total": self.output_tokens, "usage_reported": self.usage_reported,
                              "discrepancies": self.discrepancies,
                              "discrepancy_tokens": self.discrepancy_tokens,
                              "reasoning_deltas": self.reasoning_deltas,
                              "tool_call_deltas": self.tool_call_deltas},
            "goodput": {"objectives": dict(self.slo), "good": self.good,
                        "share": _r(share, 4) if share is not None else None,
                        "per_s": per_s(self.good)},
            "failures": dict(sorted(self.failures.items())),
            "examples": {k: list(v) for k, v in sorted(self.examples.items())},
            "finish_reasons": dict(sorted(self.finish_reasons.items())),
            "backlog": self.backlog,
        }


@dataclass(frozen=True)
class Knee:
    level: float  # the first level past the knee
    last_good: float | None  # the level before it (None: the first level is already past)
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"level": _level(self.level),
                "last_good": None if self.last_good is None else _level(self.last_good),
                "reason": self.reason}


def _ms(x: float | None) -> str:
    return "-" if x is None else (f"{x:.0f} ms" if x < 10_000 else f"{x / 1000:.1f} s")


def past_knee(lv: Level, first: Level, slo: dict[str, float]) -> str | None:
    """Why this level is past the knee, or None."""
    p99 = lv.p("ttft_ms", 0.99)
    if slo:
        limit = slo.get("ttft_ms")
        if limit is not None and p99 is not None and p99 > limit:
            return f"TTFT p99 {_ms(p99)} is above the objective of {_ms(limit)}"
        share = lv.goodput_share
        if share is not None and share < GOODPUT_TARGET:
            return f"goodput {share:.0%} is below {GOODPUT_TARGET:.0%} of the requests"
        return None
    base, p90 = first.p("ttft_ms", 0.5), lv.p("ttft_ms", 0.9)
    if p90 is not None and base is not None and p90 >= KNEE_RATIO * base \
            and p90 - base >= KNEE_MIN_MS:
        return f"TTFT p90 {_ms(p90)} is {p90 / base:.1f}x the first level's p50 of {_ms(base)}"
    if lv.decided and lv.failed / lv.decided >= 0.1 > (first.failed / max(1, first.decided)):
        return f"{lv.failed} of {lv.decided} requests failed"
    return None


def find_knee(levels: list[Level], slo: dict[str, float]) -> Knee | None:
    """The first level past the knee: TTFT p99 or goodput crosses the objectives (--slo), or,
    without objectives, TTFT p90 grows KNEE_RATIO times over the first level's p50 (or a
    tenth of the requests fail)."""
    if not levels or (not slo and len(levels) < 2):
        return None
    for i, lv in enumerate(levels):
        if i == 0 and not slo:
            continue
        why = past_knee(lv, levels[0], slo)
        if why is not None:
            return Knee(lv.level, levels[i - 1].level if i else None, why)
    return None
