"""A probe's report as Prometheus metric families, and their exposition (pure).

The input is the JSON report (schema sse-doctor/report@1, already redacted) and the judgement
of the probe, so recorded reports test it without a network. Names follow the blackbox
exporter where the two overlap (`probe_success`, `probe_duration_seconds`,
`probe_http_status_code`, `probe_http_duration_seconds{phase}`, `probe_http_version`); the
stream's own metrics are `sse_doctor_*`, with their unit in the name. docs/exporter.md lists
every one; tests/test_exporter_metrics.py keeps the two in step.

A value that was not observed (no event arrived, no close code) is left out rather than
written as 0: a 0 would read as "instant" on a dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from sse_doctor.units import percentile  # data: the same percentile as the reports' own

SEVERITIES = ("info", "warning", "error")
VERDICTS = ("healthy", "warning", "error")
# Label values that come from the server (an MCP revision) are cut: no server gets to fill
# Prometheus with long or endless label values.
MAX_LABEL = 64
QUANTILES = (("p50", "0.5"), ("p95", "0.95"), ("max", "1"))


@dataclass(frozen=True)
class MetricDoc:
    name: str
    labels: tuple[str, ...]
    unit: str
    help: str


# Every metric the exporter writes for a probe: its name, labels, unit and meaning (the
# exposition's HELP text and the docs table both come from here).
DOCS: tuple[MetricDoc, ...] = (
    MetricDoc("probe_success", (), "", "1 when the probe found nothing at or above the "
              "module's fail_on (findings it allows excepted) and the target answered"),
    MetricDoc("probe_duration_seconds", (), "seconds", "How long the probe took, connection "
              "and checks included"),
    MetricDoc("probe_http_status_code", (), "", "Response status of the stream request or the "
              "WebSocket handshake (101); 0 when no response arrived"),
    MetricDoc("probe_http_version", (), "", "HTTP version of the response (1.1, 2)"),
    MetricDoc("probe_http_duration_seconds", ("phase",), "seconds",
              "Time by phase: connect (WebSocket: TCP and TLS before the handshake), processing "
              "(until the response head; SSE: connecting included), transfer (from the head "
              "until the stream ended or the probe stopped reading)"),
    MetricDoc("sse_doctor_probe_deadline_reached", (), "", "1 when the scrape deadline (or the "
              "module's window) stopped the probe before its observation window ended; the "
              "checks that needed the whole window are then incomplete"),
    MetricDoc("sse_doctor_verdict", ("verdict",), "", "1 for the probe's verdict "
              "(healthy, warning, error): the worst severity found"),
    MetricDoc("sse_doctor_finding", ("code", "severity"), "", "One series per finding code "
              "of this probe: how many times it was found (codes are listed in the registry)"),
    MetricDoc("sse_doctor_time_to_first_byte_seconds", (), "seconds",
              "From the request to the first body byte (SSE) or frame (WebSocket)"),
    MetricDoc("sse_doctor_first_event_seconds", (), "seconds",
              "From the request to the first event (SSE) or message (WebSocket)"),
    MetricDoc("sse_doctor_events_received", (), "events", "SSE events received in the window"),
    MetricDoc("sse_doctor_comments_received", (), "comments",
              "SSE comments received (heartbeats are usually comments)"),
    MetricDoc("sse_doctor_messages_received", (), "messages",
              "WebSocket data messages received"),
    MetricDoc("sse_doctor_received_bytes", (), "bytes", "Body (SSE) or message (WebSocket) "
              "bytes received"),
    MetricDoc("sse_doctor_longest_silence_seconds", (), "seconds",
              "Longest time without anything arriving (events, comments, messages, pings)"),
    MetricDoc("sse_doctor_heartbeat_interval_seconds", (), "seconds",
              "Median interval between heartbeats seen: SSE comments, or pings from a "
              "WebSocket server (two heartbeats needed)"),
    MetricDoc("sse_doctor_close_info", ("by",), "", "1 for who ended the connection: server "
              "(clean end), transport (broken), client (the probe: --max-events, or stopped at "
              "the scrape deadline), deadline (the observation window ran out)"),
    MetricDoc("sse_doctor_close_code", (), "", "WebSocket close code received or sent "
              "(absent when none)"),
    MetricDoc("sse_doctor_ws_ping_rtt_seconds", ("quantile",), "seconds",
              "Round trip of the probe's pings (module ping_interval), quantile 0.5, 0.95 "
              "and 1 (the longest)"),
    MetricDoc("sse_doctor_llm_time_to_first_token_seconds", (), "seconds",
              "LLM profile: from the request to the first output token"),
    MetricDoc("sse_doctor_llm_inter_token_latency_seconds", ("quantile",), "seconds",
              "LLM profile: time between output tokens, quantile 0.5, 0.95 and 1"),
    MetricDoc("sse_doctor_llm_output_tokens", (), "tokens",
              "LLM profile: output tokens (from usage when the server sent it)"),
    MetricDoc("sse_doctor_llm_tokens_per_second", (), "tokens per second",
              "LLM profile: output rate after the first token"),
    MetricDoc("sse_doctor_mcp_revision_info", ("revision",), "", "MCP profile: 1 for the "
              "protocol revision the server spoke"),
)
_DOC = {d.name: d for d in DOCS}


@dataclass(frozen=True)
class Judgement:
    success: bool
    deadline_reached: bool = False


def _s(ms: Any) -> float | None:
    return None if not isinstance(ms, (int, float)) or isinstance(ms, bool) else round(ms / 1000, 6)


def _num(x: Any) -> float | None:
    return None if not isinstance(x, (int, float)) or isinstance(x, bool) else float(x)


def _label(value: Any) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text[:MAX_LABEL]


class _Out:
    def __init__(self) -> None:
        self.families: list[Metric] = []

    def family(self, name: str) -> GaugeMetricFamily:
        doc = _DOC[name]
        fam = GaugeMetricFamily(name, doc.help, labels=list(doc.labels))
        self.families.append(fam)
        return fam

    def gauge(self, name: str, value: float | None) -> None:
        if value is not None:
            self.family(name).add_metric([], value)

    def labelled(self, name: str, rows: Iterable[tuple[tuple[str, ...], float | None]]) -> None:
        rows = [(labels, v) for labels, v in rows if v is not None]
        if rows:
            fam = self.family(name)
            for labels, v in rows:
                fam.add_metric(list(labels), v)


def _intervals(times: list[float]) -> float | None:
    gaps = [b - a for a, b in zip(times, times[1:])]
    return percentile(gaps, 0.5) if gaps else None


def _heartbeat_s(report: dict[str, Any]) -> float | None:
    comments = [c["t_ms"] for c in report.get("comments") or [] if c.get("t_ms") is not None]
    if len(comments) >= 2:
        return _s(_intervals(comments))
    pings = [m["t_ms"] for m in report.get("messages") or []
             if m.get("dir") == "in" and m.get("type") == "ping" and m.get("t_ms") is not None]
    return _s(_intervals(pings)) if len(pings) >= 2 else None


def _http_version(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return float(text.upper().removeprefix("HTTP/"))
    except ValueError:
        return None


def _phases(report: dict[str, Any]) -> list[tuple[tuple[str, ...], float | None]]:
    """WebSocket times count from the handshake sent, after the connect; SSE times from
    the request's start, connecting included (httpx does not tell the two apart)."""
    conn = report.get("connection") or {}
    close = report.get("close") or {}
    headers = _num(conn.get("headers_ms"))
    end = _num(close.get("t_ms"))
    transfer = max(0.0, end - headers) if end is not None and headers is not None else None
    return [(("connect",), _s(conn.get("connect_ms"))), (("processing",), _s(headers)),
            (("transfer",), _s(transfer))]


def _quantiles(spread: Any) -> list[tuple[tuple[str, ...], float | None]]:
    spread = spread if isinstance(spread, dict) else {}
    return [((q,), _s(spread.get(key))) for key, q in QUANTILES]


def families(report: dict[str, Any], judged: Judgement) -> list[Metric]:
    """The metric families of one probe, from its JSON report and its judgement."""
    out = _Out()
    conn = report.get("connection") or {}
    stats = report.get("stats") or {}
    close = report.get("close") or {}
    ws = report.get("target", {}).get("protocol") == "ws"

    out.gauge("probe_success", 1.0 if judged.success else 0.0)
    out.gauge("probe_duration_seconds", _num(report.get("duration_s")))
    status = conn.get("status")
    out.gauge("probe_http_status_code", float(status) if isinstance(status, int) else 0.0)
    out.gauge("probe_http_version", _http_version(conn.get("http_version")))
    out.labelled("probe_http_duration_seconds", _phases(report))
    out.gauge("sse_doctor_probe_deadline_reached", 1.0 if judged.deadline_reached else 0.0)

    verdict = report.get("verdict")
    out.labelled("sse_doctor_verdict", [((v,), 1.0 if v == verdict else 0.0) for v in VERDICTS])
    counts: dict[tuple[str, str], int] = {}
    for f in report.get("findings") or []:
        key = (_label(f.get("code")), _label(f.get("severity")))
        counts[key] = counts.get(key, 0) + 1
    out.labelled("sse_doctor_finding", [(k, float(n)) for k, n in sorted(counts.items())])

    out.gauge("sse_doctor_time_to_first_byte_seconds", _s(conn.get("ttfb_ms")))
    out.gauge("sse_doctor_first_event_seconds", _s(conn.get("first_event_ms")))
    if ws:
        out.gauge("sse_doctor_messages_received", _num(stats.get("messages_in")))
    else:
        out.gauge("sse_doctor_events_received", _num(stats.get("events")))
        out.gauge("sse_doctor_comments_received", _num(stats.get("comments")))
    out.gauge("sse_doctor_received_bytes", _num(stats.get("bytes")))
    out.gauge("sse_doctor_longest_silence_seconds", _s((stats.get("gap_ms") or {}).get("max")))
    out.gauge("sse_doctor_heartbeat_interval_seconds", _heartbeat_s(report))
    if close.get("by"):
        out.labelled("sse_doctor_close_info", [((_label(close["by"]),), 1.0)])
    out.gauge("sse_doctor_close_code", _num(close.get("code")))
    if ws and stats.get("pings_sent"):
        out.labelled("sse_doctor_ws_ping_rtt_seconds", _quantiles(stats.get("ping_rtt_ms")))

    profile = report.get("profile") or {}
    m = profile.get("metrics") or {}
    if profile.get("name") == "llm":
        out.gauge("sse_doctor_llm_time_to_first_token_seconds", _s(m.get("ttft_ms")))
        out.labelled("sse_doctor_llm_inter_token_latency_seconds", _quantiles(m.get("itl_ms")))
        out.gauge("sse_doctor_llm_output_tokens", _num(m.get("output_tokens")))
        out.gauge("sse_doctor_llm_tokens_per_second", _num(m.get("tokens_per_s")))
    if profile.get("name") == "mcp":
        revision = m.get("revision") or m.get("protocol_version")
        if isinstance(revision, str) and revision:
            out.labelled("sse_doctor_mcp_revision_info", [((_label(revision),), 1.0)])
    return out.families


class _Families:
    """A collector of fixed families: what a per-probe CollectorRegistry holds."""

    def __init__(self, fams: list[Metric]) -> None:
        self._fams = fams

    def collect(self) -> Iterable[Metric]:
        return iter(self._fams)


def registry_of(fams: list[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(fams))
    return registry


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """(body, content type): OpenMetrics when the Accept header asks for it, else the text
    format, as prometheus_client chooses."""
    encoder: Callable[[CollectorRegistry], bytes]
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
