"""The HTML section of `load --profile llm`: the sweep's table, charts of TTFT and tokens/s by
level with the knee, and failures by kind, from the report's `load.llm` object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from sse_doctor.model import Result
from sse_doctor.redact import Redactor
from sse_doctor.report.html_text import num, shown
from sse_doctor.report.svg import level_chart

HEAD = ("level", "requests", "failed", "TTFT p50 ms", "TTFT p99 ms", "first answer p50 ms",
        "ITL p50 ms", "ITL p99 ms", "TPOT p50 ms", "E2E p99 ms", "tokens/s", "goodput")
MAX_LEVELS = 40


@dataclass(frozen=True)
class Chart:
    name: str
    chart: Markup


@dataclass(frozen=True)
class FailureRow:
    kind: str
    count: int
    examples: str


@dataclass(frozen=True)
class LlmLoadView:
    knee: str
    charts: list[Chart]
    head: tuple[str, ...]
    rows: list[list[str]]
    failures: list[FailureRow]


def _cell(x: Any) -> str:
    v = num(x)
    if v is None:
        return "-"
    return f"{v:.1f}" if abs(v) < 10 else f"{v:.0f}"


def _metric(row: dict, metric: str, q: str) -> Any:
    m = row.get("metrics")
    m = m.get(metric) if isinstance(m, dict) else None
    return m.get(q) if isinstance(m, dict) else None


def llm_load_view(r: Result, parts: dict[str, Any], red: Redactor) -> LlmLoadView | None:
    load = parts.get("load")
    llm = load.get("llm") if isinstance(load, dict) else None
    if not isinstance(llm, dict):
        return None
    levels = [row for row in llm.get("levels") or [] if isinstance(row, dict)][:MAX_LEVELS]
    mode = llm.get("mode") if llm.get("mode") in ("concurrency", "rate") else "concurrency"
    xs = [num(row.get(mode)) or 0.0 for row in levels]
    knee = llm.get("knee") if isinstance(llm.get("knee"), dict) else None
    knee_at = num(knee.get("level")) if knee else None
    charts = []
    ttft = level_chart("TTFT (ms)", xs, [
        ("p50", [num(_metric(row, "ttft_ms", "p50")) for row in levels]),
        ("p99", [num(_metric(row, "ttft_ms", "p99")) for row in levels])], knee_at, red)
    if ttft is not None:
        charts.append(Chart(f"time to first token (ms) by {mode}", ttft))
    tps = level_chart("output tokens/s", xs, [
        ("tokens/s", [num(row.get("output_tokens_per_s")) for row in levels])], knee_at, red)
    if tps is not None:
        charts.append(Chart(f"output tokens per second by {mode}", tps))
    rows = []
    for row in levels:
        good = row.get("goodput") if isinstance(row.get("goodput"), dict) else {}
        share = num(good.get("share"))
        level = num(row.get(mode))
        rows.append(["-" if level is None else f"{level:g}", _cell(row.get("requests")),
                     _cell(row.get("failed")),
                     _cell(_metric(row, "ttft_ms", "p50")), _cell(_metric(row, "ttft_ms", "p99")),
                     _cell(_metric(row, "first_answer_ms", "p50")),
                     _cell(_metric(row, "itl_ms", "p50")), _cell(_metric(row, "itl_ms", "p99")),
                     _cell(_metric(row, "tpot_ms", "p50")), _cell(_metric(row, "e2e_ms", "p99")),
                     _cell(row.get("output_tokens_per_s")),
                     "-" if share is None else f"{share:.0%}"])
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for row in levels:
        for kind, n in (row.get("failures") or {}).items():
            counts[kind] = counts.get(kind, 0) + int(num(n) or 0)
        for kind, exs in (row.get("examples") or {}).items():
            for e in exs if isinstance(exs, list) else []:
                if isinstance(e, dict) and len(examples.setdefault(kind, [])) < 3:
                    examples[kind].append(f"#{e.get('request')}: {e.get('detail')}")
    failures = [FailureRow(shown(red, k, 60), n, shown(red, "; ".join(examples.get(k, [])), 600))
                for k, n in sorted(counts.items(), key=lambda x: -x[1])]
    knee_text = ""
    if knee:
        knee_text = shown(red, f"{knee_at:g}: {knee.get('reason', '')}", 300)
    return LlmLoadView(knee_text, charts, HEAD, rows, failures)
