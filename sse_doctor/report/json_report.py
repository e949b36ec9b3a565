"""The JSON report (schema sse-doctor/report@1), built from the one Report model."""

from __future__ import annotations

import json
import math
from typing import Any

from sse_doctor import __version__
from sse_doctor.model import Report, ScenarioResult, SseObservation
from sse_doctor.redact import Redactor

SCHEMA = "sse-doctor/report@1"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))
    return s[k]


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


def _empty_parts() -> dict[str, Any]:
    return {"connection": {"status": None, "http_version": None, "headers": {},
                           "headers_ms": None, "ttfb_ms": None, "first_event_ms": None},
            "stats": {"events": 0, "comments": 0, "bytes": 0, "chunks": 0,
                      "gap_ms": {"p50": None, "p95": None, "max": None}},
            "events": [], "comments": [], "messages": [], "close": None}


def result_parts(r: ScenarioResult, redactor: Redactor) -> dict[str, Any]:
    obs = r.observation
    keep = getattr(r.options, "keep", 1000)
    if isinstance(obs, SseObservation):
        out = sse_parts(obs, keep, redactor)
    elif obs is not None and hasattr(obs, "json_parts"):
        out = obs.json_parts(keep, redactor)
    else:
        out = _empty_parts()
    if r.profile is not None:  # a protocol profile read the stream
        out["profile"] = r.profile.to_json()
    return out


def scenario_json(r: ScenarioResult, redactor: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name, "verdict": r.verdict,
                           "target": {"url": redactor.url(r.url), "protocol": r.protocol},
                           "findings": [f.to_json() for f in r.findings],
                           "checks_run": list(r.checks_run)}
    if r.expected is not None:
        out["expected"] = sorted(r.expected)
    out.update(result_parts(r, redactor))
    return out


def report_json(report: Report, redactor: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "tool_version": __version__,
        "command": report.command,
        "target": {"url": redactor.url(report.url), "protocol": report.protocol},
        "started_at": report.started_at.isoformat(),
        "duration_s": round(report.duration_s, 3),
        "verdict": report.verdict,
        "findings": [f.to_json() for f in report.findings],
    }
    if report.multi or len(report.results) != 1:
        out.update(_empty_parts())
        out["scenarios"] = [scenario_json(r, redactor) for r in report.results]
    else:
        out.update(result_parts(report.results[0], redactor))
        out["scenarios"] = []
    return redactor.deep(out)


def dumps(report: Report, redactor: Redactor) -> str:
    return json.dumps(report_json(report, redactor), indent=2, ensure_ascii=False)
