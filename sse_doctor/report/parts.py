"""The report parts of an SSE connection (connection, stats, events, comments, close) and
the empty parts of a result with no connection: what every JSON and HTML view starts from."""

from __future__ import annotations

from typing import Any

from sse_doctor.model import SseObservation
from sse_doctor.redact import Redactor
from sse_doctor.units import percentile


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def gap_stats(obs: SseObservation) -> dict[str, float | None]:
    from sse_doctor.checks.timing_checks import silences

    gaps = [b - a for a, b in silences(obs)] if obs.streamed else []
    return {"p50": _r(percentile(gaps, 0.5)), "p95": _r(percentile(gaps, 0.95)),
            "max": _r(max(gaps) if gaps else None)}


def sse_parts(obs: SseObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    events = []
    for e in obs.events[:keep]:
        item: dict[str, Any] = {"t_ms": _r(e.t_ms), "event": e.type, "data": e.data,
                                "id": e.id, "retry": e.retry}
        if e.truncated:
            item["truncated"] = True
        events.append(item)
    return {
        "connection": {
            "status": obs.status,
            "http_version": obs.http_version,
            "headers": {k: redactor.header(k, v) for k, v in obs.headers},
            "headers_ms": _r(obs.headers_ms),
            "ttfb_ms": _r(obs.ttfb_ms),
            "first_event_ms": _r(obs.first_event_ms),
        },
        "stats": {"events": obs.n_events, "comments": obs.n_comments, "bytes": obs.n_bytes,
                  "chunks": obs.n_chunks, "gap_ms": gap_stats(obs)},
        "events": events,
        "comments": [{"t_ms": _r(c.t_ms), "text": c.text} for c in obs.comments[:keep]],
        "messages": [],
        "close": obs.close.to_json() if obs.close else None,
    }


def empty_parts() -> dict[str, Any]:
    return {"connection": {"status": None, "http_version": None, "headers": {},
                           "headers_ms": None, "ttfb_ms": None, "first_event_ms": None},
            "stats": {"events": 0, "comments": 0, "bytes": 0, "chunks": 0,
                      "gap_ms": {"p50": None, "p95": None, "max": None}},
            "events": [], "comments": [], "messages": [], "close": None}
