"""The `connection` and `stats` parts of a WebSocket JSON report (schema sse-doctor/report@1)."""

from __future__ import annotations

from typing import Any

from sse_doctor.redact import Redactor
from sse_doctor.units import percentile
from sse_doctor.ws.observation import WsObservation


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def spread(values: list[float]) -> dict[str, float | None]:
    return {"p50": _r(percentile(values, 0.5)), "p95": _r(percentile(values, 0.95)),
            "max": _r(max(values) if values else None)}


def ping_rtts(obs: WsObservation) -> list[float]:
    return [p.rtt_ms for p in obs.pings if p.rtt_ms is not None]


def open_seconds(obs: WsObservation) -> float:
    if obs.headers_ms is None or not obs.opened:
        return 0.0
    return max(0.0, obs.open_until_ms - obs.headers_ms) / 1000


def message_rate(obs: WsObservation) -> float | None:
    secs = open_seconds(obs)
    return round(obs.n_messages_in / secs, 2) if secs > 0 else None


def connection_json(obs: WsObservation, red: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": obs.status,
        "http_version": obs.http_version,
        "headers": {k: red.header(k, v) for k, v in obs.headers},
        "headers_ms": _r(obs.headers_ms),
        "ttfb_ms": _r(obs.ttfb_ms),
        "first_event_ms": _r(obs.first_message_ms),
        "connect_ms": _r(obs.connect_ms),
        "reason": obs.reason_phrase or None,
        "subprotocol": obs.subprotocol,
        "extensions": list(obs.extensions),
        "offered_subprotocols": list(obs.offered_subprotocols),
        "origin": obs.origin,
        "error": obs.unreachable or obs.handshake_error,
        "close_frame_received": obs.close_frame_received,
        "close_frame_sent": obs.close_frame_sent,
        "close_initiator": obs.close_initiator,
        "tcp_end": obs.tcp_end,
        "tcp_end_ms": _r(obs.tcp_end_ms),
        "max_message_size": obs.max_message_size,
    }
    if obs.redirects:
        out["redirects"] = list(obs.redirects)
    if obs.body_excerpt:
        out["body_excerpt"] = obs.body_excerpt.decode("utf-8", "replace")
    return out


def stats_json(obs: WsObservation) -> dict[str, Any]:
    gaps = [b - a for a, b in obs.silences()]
    n_in = obs.n_messages_in
    return {
        # the keys every report has (SSE meanings: no events or comments on a WebSocket)
        "events": 0,
        "comments": 0,
        "bytes": obs.bytes_in,
        "chunks": obs.n_reads,
        "gap_ms": spread(gaps),
        # WebSocket
        "messages_in": n_in,
        "messages_out": obs.n_messages_out,
        "bytes_in": obs.bytes_in,
        "bytes_out": obs.bytes_out,
        "frames_in": dict(obs.n_in),
        "frames_out": dict(obs.n_out),
        "message_size": {
            "min": obs.size_min,
            "avg": round(obs.bytes_in / n_in, 1) if n_in else None,
            "max": obs.size_max,
        },
        "message_rate_per_s": message_rate(obs),
        "pings_sent": len(obs.pings),
        "pongs_received": sum(1 for p in obs.pings if p.pong_ms is not None),
        "ping_rtt_ms": spread(ping_rtts(obs)),
        "frames_not_kept": obs.frames_dropped,
    }


def json_parts(obs: WsObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    """The report parts of a WebSocket connection."""
    return {
        "connection": connection_json(obs, redactor),
        "stats": stats_json(obs),
        "events": [],
        "comments": [],
        "messages": [f.to_json() for f in obs.frames[:keep]],
        "close": obs.close.to_json() if obs.close else None,
    }
