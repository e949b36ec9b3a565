"""Prometheus watches (`--watch-metric 'URL#name{label="v"}'`): the selector, and the value of
a text exposition (or OpenMetrics, by Content-Type) parsed by prometheus-client's parser."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import parse_labels, text_string_to_metric_families

from sse_doctor.errors import UsageError
from sse_doctor.watchers.spec import ReadError, WatchSpec, shown, split_url

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def parse_selector(selector: str) -> tuple[str, dict[str, str]]:
    """``name{label="v",...}`` -> (name, labels); ValueError with a reason when malformed.

    The label part is read by prometheus-client's own label parser, so escapes (\\", \\\\,
    \\n) mean exactly what they mean in an exposition.
    """
    selector = selector.strip()
    m = _METRIC_NAME.match(selector)
    if not m:
        raise ValueError(f"{selector!r} does not start with a metric name")
    name, rest = m.group(), selector[m.end():].strip()
    if not rest:
        return name, {}
    if not (rest.startswith("{") and rest.endswith("}")):
        raise ValueError(f"unexpected {rest!r} after the metric name; write "
                         f'name{{label="value",...}}')
    inner = rest[1:-1]
    if re.search(r'(=~|!~|!=)\s*"', inner):
        raise ValueError('only exact label matches (label="value") are supported')
    try:
        labels = parse_labels(inner)
    except Exception:  # the parser raises several types on malformed text
        raise ValueError(f"bad label selector {rest}; write label=\"value\" pairs separated "
                         f"by commas") from None
    return name, labels


def format_selector(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    inner = ",".join(f'{k}="{esc(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def parse_watch_metric(text: str) -> WatchSpec:
    option = "--watch-metric"
    url, selector = split_url(option, text, 'URL#metric_name{label="value",...}')
    if not selector.strip():
        raise UsageError(f"{option} {shown(text)}: no metric name after '#'")
    try:
        name, labels = parse_selector(selector)
    except ValueError as exc:
        raise UsageError(f"{option} {shown(text)}: {exc}") from None
    return WatchSpec("metric", text, url, format_selector(name, labels), None)


def finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ReadError(f"{what} is {value}, not a finite number")
    return value


def parse_exposition(text: str, content_type: str = "") -> list[Any]:
    """Metric families from a /metrics body; OpenMetrics when the server says so."""
    try:
        if "openmetrics" in content_type.lower():
            return list(openmetrics_families(text))
        return list(text_string_to_metric_families(text))
    except Exception as exc:  # the parser raises ValueError, IndexError, ... on bad input
        first = text.lstrip()[:40].splitlines()[0] if text.strip() else ""
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        hint = f" (starts with {first!r})" if first else " (empty body)"
        raise ReadError(f"not Prometheus text exposition format: {reason}{hint}") from None


@dataclass(frozen=True)
class MetricPick:
    value: float
    matched: int  # samples summed


def select_metric(families: Iterable[Any], name: str, labels: dict[str, str],
                  *, strict: bool = True) -> MetricPick:
    """Sum the samples called ``name`` whose labels include every given pair.

    prometheus-client names a counter family without ``_total`` and its samples with it, so
    a counter's family name selects its ``_total`` samples too. A name declared (# TYPE)
    without samples, e.g. a labelled gauge with no children yet, reads as 0.

    When samples of that name exist but none has the labels, ``strict`` (at baseline, where
    it is most likely a typo) raises with what is there; otherwise it reads 0: the labelled
    child went away, which is what a cleaned-up per-session gauge does.
    """
    by_name: dict[str, list[Any]] = {}
    empty: set[str] = set()  # declared, no samples yet: reads as 0
    counters: set[str] = set()
    compound: dict[str, Any] = {}  # histogram/summary families: their name is no sample
    for fam in families:
        if fam.type == "counter":
            counters.add(fam.name)
        if not fam.samples:
            empty.add(fam.name)
            if fam.type == "counter":
                empty.add(fam.name + "_total")
        elif fam.type in ("histogram", "gaugehistogram", "summary"):
            compound[fam.name] = fam
        for s in fam.samples:
            by_name.setdefault(s.name, []).append(s)
    sample_name = name
    if name not in by_name and name in counters:
        sample_name = name + "_total"
    if sample_name not in by_name and sample_name in compound:
        fam = compound[sample_name]
        parts = ", ".join(sorted({s.name for s in fam.samples}))
        raise ReadError(f"{name} is a {fam.type}, not one sample: watch one of {parts}")
    if sample_name not in by_name and sample_name not in empty:
        known = sorted(set(by_name) | empty | counters)
        close = difflib.get_close_matches(name, known, n=3)
        if close:
            hint = f" (did you mean {', '.join(close)}?)"
        elif known:
            more = f", ... {len(known) - 8} more" if len(known) > 8 else ""
            hint = f" (have: {', '.join(known[:8])}{more})"
        else:
            hint = " (the exposition has no metrics)"
        raise ReadError(f"no metric named {name}{hint}")
    candidates = by_name.get(sample_name, [])
    matched = [s for s in candidates
               if all(s.labels.get(k) == v for k, v in labels.items())]
    if not matched and candidates and strict:
        have = [format_selector(s.name, dict(s.labels)) for s in candidates[:5]]
        more = f", ... {len(candidates) - 5} more" if len(candidates) > 5 else ""
        raise ReadError(f"no sample named {sample_name} with labels "
                         f"{format_selector('', labels)} (have: {', '.join(have)}{more})")
    what = format_selector(sample_name, labels)
    total = sum(finite(s.value, what) for s in matched)
    return MetricPick(total, len(matched))
