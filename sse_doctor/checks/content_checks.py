"""Checks on what the stream said: payloads, expected events, retry, ids, format errors."""

from __future__ import annotations

import math

from sse_doctor.checks.timing_checks import is_data_event
from sse_doctor.model import EventRec, Finding, ProbeOptions, SseObservation, finding, when

REPEAT_RUN = 5  # this many identical payloads in a row look like stale data
LOW_RETRY_MS = 1000

DIAG_WORDS = {
    "invalid-utf8": "invalid UTF-8 (replaced with U+FFFD)",
    "ignored-field": "unknown field names, ignored by browsers",
    "bad-retry": "retry values that are not plain digits, ignored",
    "nul-in-id": "ids containing NUL, ignored",
    "discarded-trailing-event": "an event left unterminated at the end, discarded",
    "truncated-data": "event data over 64 KiB (kept truncated)",
    "line-too-long": "oversize lines (the excess was dropped)",
}


def check_repeated(obs: SseObservation) -> list[Finding]:
    if not obs.streamed:
        return []
    best_len, best_at, run, prev = 0, None, 0, None
    # Up to 100,000 events, a handful of types: decide per type, not per event.
    data_types = {t for t in {e.type for e in obs.events} if is_data_event(t)}
    for e in obs.events:
        if e.type not in data_types or e.size == 0:
            run, prev = 0, None
            continue
        key = (e.type, e.data_hash)
        run = run + 1 if key == prev else 1
        prev = key
        if run > best_len:
            best_len, best_at = run, e
    if best_len < REPEAT_RUN or best_at is None:
        return []
    sample = next((e.data for e in obs.events
                   if (e.type, e.data_hash) == (best_at.type, best_at.data_hash)
                   and e.data is not None), None)
    excerpt = (sample or "")[:200]
    return [finding(
        "repeated-payload",
        f"{best_len} '{best_at.type}' events in a row carried the same data "
        f"({excerpt!r}); the source is not seeing new values.",
        run_length=best_len, event_type=best_at.type, payload_excerpt=excerpt)]


def check_expected_events(obs: SseObservation, opts: ProbeOptions) -> list[Finding]:
    # When the server ended the stream early, premature-close reports the missing events.
    if not obs.streamed or not opts.expect_events or obs.close is None \
            or obs.close.by in ("server", "transport"):
        return []
    seen = {e.type for e in obs.events}
    missing = [name for name in opts.expect_events if name not in seen]
    if not missing:
        return []
    seen_list = sorted(seen)[:10]
    # `probe --follow` has no window: the stream ended some other way (--max-events).
    bounded = math.isfinite(obs.window_s)
    within = f"within {obs.window_s:g} s" if bounded else \
        f"in the {when(obs.close.t_ms)} observed"
    return [finding(
        "missing-expected-event",
        f"No {', '.join(repr(m) for m in missing)} event {within}; "
        f"saw {obs.n_events} event(s) of type(s) {', '.join(seen_list) or 'none'}.",
        missing=missing, seen_types=seen_list, window_s=obs.window_s if bounded else None)]


def check_retry(obs: SseObservation) -> list[Finding]:
    if not obs.streamed or not obs.retries:
        return []
    low = min(ms for _, ms in obs.retries)
    if low >= LOW_RETRY_MS:
        return []
    return [finding(
        "low-retry",
        f"The server sets retry: {low} ms; clients reconnect that fast after every drop.",
        retry_ms=low)]


def check_event_ids(obs: SseObservation) -> list[Finding]:
    if not obs.streamed or obs.n_events == 0 or any(e.id for e in obs.events):
        return []
    return [finding(
        "no-event-ids",
        f"None of the {obs.n_events} events carried an id, so a reconnecting client cannot "
        "resume with Last-Event-ID.", events=obs.n_events)]


def check_malformed(obs: SseObservation) -> list[Finding]:
    if not obs.streamed or not obs.diagnostics:
        return []
    parts = [f"{n} x {DIAG_WORDS.get(k, k)}" for k, n in obs.diagnostics.most_common()]
    examples = [{"t_ms": round(t, 1), "kind": k, "detail": d} for t, k, d in obs.diag_examples]
    return [finding(
        "malformed-stream", "The stream breaks the format: " + "; ".join(parts) + ".",
        counts=dict(obs.diagnostics), examples=examples[:10])]


# The event type servers use to report a failure inside a 200 stream (Hono's streamSSE
# onError, sse-starlette and many hand-written handlers). Event types are case-sensitive
# for browsers, but 'Error' is meant the same way.
ERROR_EVENT_TYPE = "error"


def error_events(obs: SseObservation) -> list[EventRec]:
    return [e for e in obs.events if e.type.lower() == ERROR_EVENT_TYPE]


def check_error_event(obs: SseObservation, opts: ProbeOptions) -> list[Finding]:
    if not obs.streamed or ERROR_EVENT_TYPE in (n.lower() for n in opts.expect_events):
        return []
    errors = error_events(obs)
    if not errors:
        return []
    first = errors[0]
    excerpt = (first.data or "")[:200]
    detail = (f"The server sent {len(errors)} 'error' event(s) inside the HTTP "
              f"{obs.status} stream, the first at {when(first.t_ms)}"
              + (f": {excerpt!r}" if excerpt else " (no data)") + ".")
    close = obs.close
    if close is not None and close.by == "server" and close.t_ms >= errors[-1].t_ms:
        after = sum(1 for e in obs.events if e.t_ms > errors[-1].t_ms)
        detail += (f" The server then ended the stream at {when(close.t_ms)}"
                   + (f", {after} event(s) later." if after else ", right after it."))
    detail += (" In a browser it reaches the same 'error' listener as a lost connection "
               "(as a MessageEvent with data); the operation failed on the server.")
    return [finding("error-event", detail, count=len(errors), first_ms=round(first.t_ms, 1),
                    data_excerpt=excerpt, event_type=first.type)]
