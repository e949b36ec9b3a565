"""Smoke runs of bench/scale_bench.py's measuring function against the lab (small N), and the
lab's /sse/clock route it reads. No timing assertions: only structure and completeness."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import httpx
import pytest

from sse_doctor.lab import LabServer

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale_bench.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("scale_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


scale_bench = _load_bench()

N = 12
RESULT_KEYS = {
    "client", "n", "streams_per_client", "gc_freeze", "interval_s", "window_s", "open_s",
    "opened", "failed", "failures", "streams_with_lags", "heartbeats", "negative_lags", "lag_ms",
    "lag_p50_ms_by_second", "lag_trend_ms", "server_late_ms", "client_loop_lag_ms",
    "rss_before_mib", "rss_after_mib", "rss_per_stream_kib", "client_cpu_pct",
    "client_cpu_us_per_beat", "server_cpu_us_per_beat", "client_cpu_ramp_s",
    "client_cpu_close_s", "server_cpu_pct", "others_cpu_pct", "client_preempted",
    "gc_full_collections", "gc_max_pause_ms", "gc_max_pause_cpu_ms", "close_s",
}


def _check_complete(result: dict, kind: str, n: int) -> None:
    assert set(result) == RESULT_KEYS
    assert result["client"] == kind and result["n"] == n
    assert result["opened"] == n
    assert result["failed"] == 0, result["failures"]
    # A lag was recorded for every stream, each from a clock comment sent after the ramp.
    assert result["streams_with_lags"] == n
    assert result["heartbeats"] >= n
    # Same machine, same clock: no heartbeat can arrive before it was sent.
    assert result["negative_lags"] == 0
    for stats in (result["lag_ms"], result["server_late_ms"]):
        assert stats["p50"] is not None and stats["p50"] <= stats["p99"] <= stats["max"]
    assert result["server_late_ms"]["p50"] >= 0  # measured from the earliest send
    assert result["client_cpu_us_per_beat"] is not None
    assert result["server_cpu_pct"] is None  # no lab pid given: the lab runs in this process


@pytest.mark.parametrize("kind", scale_bench.CLIENT_KINDS)
def test_measure_records_a_lag_for_every_stream(lab: LabServer, kind: str) -> None:
    result = scale_bench.measure(lab.base_url, N, 1.0, kind, scale_bench.Setup(interval=0.2))
    _check_complete(result, kind, N)
    assert result["streams_per_client"] == N


def test_measure_with_several_clients_and_frozen_gc(lab: LabServer) -> None:
    setup = scale_bench.Setup(interval=0.2, per_client=5, gc_freeze=True)
    result = scale_bench.measure(lab.base_url, N, 1.0, "sse-doctor", setup)
    _check_complete(result, "sse-doctor", N)
    assert result["streams_per_client"] == 5 and result["gc_freeze"] is True


def test_shares_cover_every_stream() -> None:
    assert scale_bench._shares(12, 5) == [5, 5, 2]
    assert scale_bench._shares(3, 250) == [3]


def test_measure_rejects_bad_arguments(lab: LabServer) -> None:
    with pytest.raises(ValueError, match="client_kind"):
        scale_bench.measure(lab.base_url, 1, 1.0, "curl")
    with pytest.raises(ValueError, match="positive"):
        scale_bench.measure(lab.base_url, 0, 1.0, "sse-doctor")


def test_table_and_ratios_render_each_measurement() -> None:
    row = {
        "n": 10, "open_s": 0.1, "failed": 0, "rss_per_stream_kib": 40.0,
        "lag_ms": {"p50": 1.0, "p99": 2.0, "max": 3.0}, "lag_trend_ms": 0.1,
        "server_late_ms": {"p99": 1.0}, "client_loop_lag_ms": {"p99": 1.0},
        "gc_full_collections": 0, "gc_max_pause_ms": 0.0, "client_cpu_pct": 5.0,
        "client_cpu_us_per_beat": 100.0, "server_cpu_pct": 3.0, "others_cpu_pct": 1.0,
    }
    base = {**row, "client": "httpx-sse"}
    ours = {**row, "client": "sse-doctor", "client_cpu_us_per_beat": 150.0}
    lines = scale_bench.table([base, ours]).splitlines()
    assert len(lines) == 4
    assert all(line.count("|") == len(scale_bench.COLUMNS) + 1 for line in lines)
    assert "client CPU/heartbeat 1.50x" in scale_bench.ratios([base, ours])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bench needs Linux")
def test_the_shared_clock_holds_here() -> None:
    assert scale_bench.shared_clock_problem() is None


@pytest.mark.parametrize("spread", ["0", "1"])
def test_clock_route_sends_perf_counter_comments(lab: LabServer, spread: str) -> None:
    url = lab.url(f"/sse/clock?interval=0.05&spread={spread}")
    with httpx.Client(timeout=5) as client:
        sent = time.perf_counter()
        with client.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            values: list[float] = []
            for line in response.iter_lines():
                assert line.startswith(": t=")
                values.append(float(line[4:]))
                arrived = time.perf_counter()
                # The lab runs in this process: its send time lies between request and arrival.
                assert sent <= values[-1] <= arrived
                if len(values) == 4:
                    break
    assert values == sorted(values)


@pytest.mark.parametrize("query", ["interval=soon", "interval=0", "interval=61"])
def test_clock_route_rejects_bad_intervals(lab: LabServer, query: str) -> None:
    assert httpx.get(lab.url(f"/sse/clock?{query}"), timeout=5).status_code == 400
