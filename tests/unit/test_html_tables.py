"""The HTML report shows figures as tables, as the terminal does (issue 21): a load run's
histograms and a profile's metrics never as raw JSON objects; a series that is all zero is
charted on 0..1, not -1..1."""

from __future__ import annotations

import re

from sse_doctor.model import Result
from sse_doctor.redact import Redactor
from sse_doctor.report.sections import Records, shaped_view
from sse_doctor.report.svg import watch_chart

RESULT = Result(name="probe", protocol="sse", url="http://x/", findings=[],
                checks_run=[])


def _tables(key: str, data: dict) -> dict[str, Records]:
    view = shaped_view(key, key.capitalize())(RESULT, {key: data}, Redactor())
    assert view is not None and view.facts is not None
    text = " ".join(str(f.value) for f in view.facts)
    assert '{"' not in text and "{'" not in text  # no raw JSON object among the facts
    return {str(b.heading): b for b in view.blocks if isinstance(b, Records)}


def test_load_histograms_are_a_table_with_a_column_per_figure() -> None:
    hist = {"headers_ms": {"p50": 0.8, "p95": 2.1, "p99": 3.0, "max": 9.5, "count": 100},
            "gap_ms": {"p50": 1000.2, "p95": 1003.0, "p99": 1010.0, "max": 1200.0,
                       "count": 2900}}
    tables = _tables("load", {"workers": 2, "loop": "asyncio", "histograms": hist})
    t = tables["Histograms"]
    assert [str(c) for c in t.columns] == ["name", "p50", "p95", "p99", "max", "count"]
    assert [[str(c) for c in row] for row in t.rows] == [
        ["headers ms", "0.8", "2.1", "3", "9.5", "100"],
        ["gap ms", "1000.2", "1003", "1010", "1200", "2900"]]


def test_profile_metrics_are_tables_of_values_and_distributions() -> None:
    metrics = {"ttft_ms": 120.5, "itl_ms": {"p50": 30.5, "p95": 41.0, "max": 60.2},
               "output_tokens": 24, "finish_reason": "stop"}
    tables = _tables("profile", {"name": "llm", "dialect": "openai-chat", "metrics": metrics})
    values = {str(r[0]): str(r[1]) for r in tables["Metrics"].rows}
    assert values == {"ttft ms": "120.5", "output tokens": "24", "finish reason": "stop"}
    dist = tables["Distributions"]
    assert [str(c) for c in dist.rows[0]] == ["itl ms", "30.5", "41", "60.2"]


def test_an_all_zero_series_is_charted_from_0_to_1() -> None:
    chart = watch_chart({"name": "streams refused so far",
                         "samples": [[0.0, 0], [1000.0, 0], [2000.0, 0]]}, Redactor())
    assert chart is not None
    ticks = re.findall(r'class="tick end"[^>]*>([^<]+)<', str(chart))
    assert ticks[:2] == ["1", "0"] and "-1" not in ticks
