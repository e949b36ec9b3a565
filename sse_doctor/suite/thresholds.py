"""Suite thresholds, measured on what a check observed (pure: observations in, findings out).

- max_first_event_ms: the first event (SSE) or data message (WebSocket) must arrive within
  this many milliseconds of the request.
- max_gap_s: the longest time without an event, from the request to the end of the
  observation, must stay within this many seconds. Comments and pings do not count: they keep
  a connection alive, events are what the client waits for (silences of any kind are
  --idle-limit's job).
- min_events: at least this many events (data messages) must arrive in the window.

A check whose command records no stream (an experiment) cannot be measured: its thresholds
are missed, with a detail that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sse_doctor.model import Finding, Result, SseObservation, finding, when
from sse_doctor.units import same_unit


@dataclass(frozen=True)
class Measures:
    first_event_ms: float | None
    longest_gap_ms: float
    gap_start_ms: float
    events: int


def _longest(points: list[float]) -> tuple[float, float]:
    best, start = 0.0, 0.0
    for a, b in zip(points, points[1:]):
        if b - a > best:
            best, start = b - a, a
    return best, start


def measure(obs: Any) -> Measures | None:
    """What the thresholds look at, for the observations that record a stream."""
    if isinstance(obs, SseObservation):
        times = [e.t_ms for e in obs.events]
        complete = len(obs.events) >= obs.n_events
        count, first = obs.n_events, obs.first_event_ms
    elif hasattr(obs, "data_frames") and hasattr(obs, "first_message_ms"):  # WebSocket
        frames = obs.data_frames("in")
        times = [f.t_ms for f in frames]
        complete = not obs.frames_dropped
        count = obs.n_in["text"] + obs.n_in["binary"]
        first = obs.first_message_ms
    else:
        return None
    # Events past the kept timeline are counted, not timed: then the tail gap is unknown.
    end = [max(obs.end_ms, times[-1] if times else 0.0)] if complete else []
    gap, start = _longest([0.0, *times, *end])
    return Measures(first, gap, start, count)


def evaluate(thresholds: dict[str, float], results: list[Result]) \
        -> tuple[list[Finding], dict[str, dict[str, Any]]]:
    """threshold-missed findings and, per threshold, {limit, measured, met}.

    With several streams (a checkup), each threshold is held against the worst of them."""
    if not thresholds:
        return [], {}
    measured = [m for m in (measure(r.observation) for r in results) if m is not None]
    findings: list[Finding] = []
    report: dict[str, dict[str, Any]] = {}

    def missed(key: str, limit: float, value: float | None, detail: str, **ev: Any) -> None:
        findings.append(finding("threshold-missed", detail, threshold=key, limit=limit,
                                measured=value, **ev))

    for key, limit in thresholds.items():
        if not measured:
            report[key] = {"limit": limit, "measured": None, "met": False}
            missed(key, limit, None, f"{key} = {limit:g} could not be measured: this check "
                                     "recorded no stream (nothing arrived, or its command does "
                                     "not observe one).")
            continue
        if key == "max_first_event_ms":
            firsts = [m.first_event_ms for m in measured]
            value = None if any(f is None for f in firsts) else max(firsts)  # type: ignore
            met = value is not None and value <= limit
            if value is None:
                missed(key, limit, None, f"No event arrived in the window; the suite wants the "
                                         f"first one within {when(limit)} ({key}).")
            elif not met:
                missed(key, limit, round(value, 1),
                       f"The first event arrived after {when(value)}; the suite allows at most "
                       f"{when(limit)} ({key}).")
            report[key] = {"limit": limit, "measured": None if value is None
                           else round(value, 1), "met": met}
        elif key == "max_gap_s":
            worst = max(measured, key=lambda m: m.longest_gap_ms)
            value = worst.longest_gap_ms / 1000
            met = value <= limit
            if not met:
                gap_text, start_text = same_unit(worst.longest_gap_ms, worst.gap_start_ms)
                where = "before the first event" if worst.gap_start_ms == 0.0 \
                    else f"from {start_text}"
                missed(key, limit, round(value, 3),
                       f"The stream went {gap_text} without an event "
                       f"({where}); the suite allows at most {limit:g} s ({key}).",
                       gap_start_ms=round(worst.gap_start_ms, 1))
            report[key] = {"limit": limit, "measured": round(value, 3), "met": met}
        elif key == "min_events":
            count = min(m.events for m in measured)
            met = count >= limit
            if not met:
                missed(key, limit, count, f"{count} event(s) arrived in the window; the suite "
                                          f"wants at least {limit:g} ({key}).")
            report[key] = {"limit": limit, "measured": count, "met": met}
    return findings, report
