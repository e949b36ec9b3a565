"""The exporter's pure core: recorded reports (fixtures/exporter, `sse-doctor probe --json`
against the lab) in, metric families and their exposition out; the probe deadline; the
target patterns. No sockets."""

from __future__ import annotations

import json
import pathlib
import statistics

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sse_doctor.exporter.deadline import (
    DeadlineTooShort,
    observation_window,
    probe_deadline,
)
from sse_doctor.exporter.metrics import (
    DOCS,
    MAX_LABEL,
    Judgement,
    exposition,
    families,
    registry_of,
)
from sse_doctor.exporter.targets import TargetRefused, allowed

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "exporter"


def report(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def samples(rep: dict, success: bool = True, cut: bool = False) -> dict[tuple, float]:
    """{(name, labels...): value} from the text exposition, parsed back by the client's
    own parser (so the output is valid Prometheus text)."""
    body, ctype = exposition(registry_of(families(rep, Judgement(success, cut))), None)
    assert ctype.startswith("text/plain")
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, *sorted(s.labels.items()))] = s.value
    return out


def test_a_healthy_sse_stream() -> None:
    rep = report("sse-healthy")
    m = samples(rep)
    assert m[("probe_success",)] == 1
    assert m[("probe_http_status_code",)] == 200
    assert m[("probe_http_version",)] == 1.1
    assert m[("probe_duration_seconds",)] == rep["duration_s"]
    assert m[("sse_doctor_events_received",)] == rep["stats"]["events"] > 0
    assert m[("sse_doctor_comments_received",)] == rep["stats"]["comments"]
    assert m[("sse_doctor_first_event_seconds",)] == \
        pytest.approx(rep["connection"]["first_event_ms"] / 1000)
    assert m[("sse_doctor_longest_silence_seconds",)] == \
        pytest.approx(rep["stats"]["gap_ms"]["max"] / 1000)
    # the lab's heartbeat comes every second
    times = [c["t_ms"] for c in rep["comments"]]
    expected = statistics.median(b - a for a, b in zip(times, times[1:])) / 1000
    assert m[("sse_doctor_heartbeat_interval_seconds",)] == pytest.approx(expected)
    assert 0.8 < expected < 1.2
    assert m[("sse_doctor_verdict", ("verdict", "healthy"))] == 1
    assert m[("sse_doctor_verdict", ("verdict", "error"))] == 0
    assert not any(k[0] == "sse_doctor_finding" for k in m)
    assert m[("sse_doctor_close_info", ("by", "deadline"))] == 1
    assert m[("probe_http_duration_seconds", ("phase", "processing"))] == \
        pytest.approx(rep["connection"]["headers_ms"] / 1000)
    # SSE has no separate connect time and no WebSocket metrics
    assert ("probe_http_duration_seconds", ("phase", "connect")) not in m
    assert not any(k[0].startswith(("sse_doctor_ws_", "sse_doctor_messages")) for k in m)
    assert m[("sse_doctor_probe_deadline_reached",)] == 0


def test_a_stalled_stream_has_its_finding_and_the_error_verdict() -> None:
    m = samples(report("sse-stalled"), success=False)
    assert m[("probe_success",)] == 0
    assert m[("sse_doctor_finding", ("code", "stalled-stream"), ("severity", "error"))] == 1
    assert m[("sse_doctor_verdict", ("verdict", "error"))] == 1
    assert m[("sse_doctor_events_received",)] == 1


def test_a_websocket_stream() -> None:
    rep = report("ws-healthy-echo")
    m = samples(rep)
    assert m[("probe_http_status_code",)] == 101
    assert m[("sse_doctor_messages_received",)] == rep["stats"]["messages_in"] > 0
    assert m[("sse_doctor_close_code",)] == 1000
    assert m[("probe_http_duration_seconds", ("phase", "connect"))] == \
        pytest.approx(rep["connection"]["connect_ms"] / 1000)
    rtt = rep["stats"]["ping_rtt_ms"]
    assert m[("sse_doctor_ws_ping_rtt_seconds", ("quantile", "0.5"))] == \
        pytest.approx(rtt["p50"] / 1000)
    assert m[("sse_doctor_ws_ping_rtt_seconds", ("quantile", "1"))] == \
        pytest.approx(rtt["max"] / 1000)
    assert ("sse_doctor_events_received",) not in m


def test_a_refused_handshake() -> None:
    m = samples(report("ws-reject-origin"), success=False)
    assert m[("probe_http_status_code",)] == 403
    assert m[("sse_doctor_finding", ("code", "ws-handshake-failed"), ("severity", "error"))] == 1
    assert m[("sse_doctor_close_info", ("by", "server"))] == 1
    assert ("sse_doctor_first_event_seconds",) not in m  # never seen: absent, not 0


def test_an_unreachable_target_has_status_0_and_no_timings() -> None:
    m = samples(report("sse-unreachable"), success=False)
    assert m[("probe_http_status_code",)] == 0
    assert m[("sse_doctor_finding", ("code", "target-unreachable"), ("severity", "error"))] == 1
    assert not any(k[0] == "probe_http_duration_seconds" for k in m)
    assert m[("sse_doctor_close_info", ("by", "transport"))] == 1


def test_llm_metrics() -> None:
    rep = report("llm-healthy")
    lm = rep["profile"]["metrics"]
    m = samples(rep)
    assert m[("sse_doctor_llm_time_to_first_token_seconds",)] == \
        pytest.approx(lm["ttft_ms"] / 1000)
    assert m[("sse_doctor_llm_inter_token_latency_seconds", ("quantile", "0.95"))] == \
        pytest.approx(lm["itl_ms"]["p95"] / 1000)
    assert m[("sse_doctor_llm_output_tokens",)] == lm["output_tokens"] > 0
    assert m[("sse_doctor_llm_tokens_per_second",)] == lm["tokens_per_s"]


def test_mcp_revision_is_a_label() -> None:
    rep = report("mcp-healthy")
    m = samples(rep)
    revision = rep["profile"]["metrics"]["protocol_version"]
    assert m[("sse_doctor_mcp_revision_info", ("revision", revision))] == 1


def test_a_server_cannot_fill_labels() -> None:
    rep = report("mcp-healthy")
    rep["profile"]["metrics"]["protocol_version"] = "x" * 10_000 + "\n"
    [key] = [k for k in samples(rep) if k[0] == "sse_doctor_mcp_revision_info"]
    assert len(key[1][1]) == MAX_LABEL


def test_the_deadline_flag() -> None:
    m = samples(report("sse-healthy"), cut=True)
    assert m[("sse_doctor_probe_deadline_reached",)] == 1


def test_openmetrics_when_asked() -> None:
    fams = families(report("sse-stalled"), Judgement(False))
    body, ctype = exposition(registry_of(fams),
                             "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert ctype.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert 'sse_doctor_finding{code="stalled-stream",severity="error"} 1.0' in text


def test_every_metric_is_documented() -> None:
    page = (ROOT / "docs" / "exporter.md").read_text()
    for doc in DOCS:
        assert f"`{doc.name}`" in page, doc.name
        for label in doc.labels:
            assert f"`{label}`" in page, (doc.name, label)


# --- the deadline ---------------------------------------------------------------------------
def test_the_deadline_is_the_scrape_timeout_less_the_offset_or_the_window() -> None:
    assert probe_deadline(8, "10", 0.5) == 8
    assert probe_deadline(8, "4", 0.5) == 3.5
    assert probe_deadline(8, None, 0.5) == 8
    assert probe_deadline(8, "not a number", 0.5) == 8
    assert probe_deadline(8, "-3", 0.5) == 8
    with pytest.raises(DeadlineTooShort):
        probe_deadline(8, "0.5", 0.5)
    assert 0 < observation_window(3.5) < 3.5
    assert 0 < observation_window(0.3) < 0.3


# --- targets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("url, ok", [
    ("http://127.0.0.1:8000/sse/healthy", True),
    ("HTTP://127.0.0.1:8000/sse/healthy?x=1", True),
    ("http://127.0.0.1:8000/other", False),
    ("http://127.0.0.1.evil.test:8000/sse/x", False),
    ("https://events.example.com/v1/sse", True),
    ("https://evil.test/x.example.com/v1/sse", False),  # * does not cross the host
    ("https://a.b.example.com/anything", True),
    ("wss://events.example.com/v1/sse", False),
])
def test_target_patterns_match_part_by_part(url: str, ok: bool) -> None:
    patterns = ("http://127.0.0.1:*/sse/*", "https://*.example.com")
    assert allowed(url, patterns) is ok


@pytest.mark.parametrize("url", ["http://127.0.0.1:80@evil.test/sse/x", "file:///etc/passwd",
                                 "http://127.0.0.1:99999/", "gopher://x/", "http:///nohost"])
def test_bad_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        allowed(url, ("*://*",))
