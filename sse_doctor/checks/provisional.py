"""The findings a stream still in progress already shows (the live panel of `probe`). Pure.

The same checks as the final report, run on a snapshot of the observation taken `now_ms`
into it: the snapshot ends now, so the silence going on counts. Only the codes whose
evidence can exist before the end are shown; a finding that a later arrival could clear
(a stall ends with the next data event) is marked provisional.
"""

from __future__ import annotations

import copy
from typing import Any

from sse_doctor.model import Close, Finding, SseObservation

LIVE_SSE = ("target-unreachable", "http-error", "not-event-stream", "missing-no-cache",
            "compressed-stream", "delayed-headers", "no-heartbeat", "stalled-stream")
LIVE_WS = ("target-unreachable", "ws-handshake-failed", "ws-early-close",
           "ws-abnormal-close", "ws-no-keepalive", "ws-pong-timeout")
PROVISIONAL = frozenset({"stalled-stream"})


def snapshot(obs: Any, now_ms: float) -> Any:
    """A shallow copy of `obs` that ends at `now_ms` (the lists are shared, not copied: the
    caller runs on the event loop that fills them, so they do not change under it)."""
    snap = copy.copy(obs)
    if snap.close is None:
        snap.end_ms = max(now_ms, snap.end_ms)
        if isinstance(snap, SseObservation):
            # As if the window ended now: the checks that look at how it ended stay quiet.
            snap.close = Close("deadline", snap.end_ms, None, "")
    return snap


def live_findings(obs: Any, opts: Any, now_ms: float) -> list[tuple[Finding, bool]]:
    """(finding, provisional) for what can be decided on `obs` so far."""
    snap = snapshot(obs, now_ms)
    if isinstance(obs, SseObservation):
        from sse_doctor.checks import http_checks
        from sse_doctor.checks.selection import HEAD_CHECKS, STREAM_CHECKS, run_selected

        if snap.unreachable is not None:
            return [(f, False) for f in http_checks.check_unreachable(snap)]
        # Only the live codes: the others (client-divergence re-reads the whole prefix)
        # would cost a refresh for nothing.
        selected = [(c, check) for c, check in HEAD_CHECKS + (STREAM_CHECKS if snap.streamed
                                                           else []) if c in LIVE_SSE]
        findings, _ = run_selected(selected, snap, opts)
        wanted = LIVE_SSE
    else:
        from sse_doctor.checks.ws_checks import run_ws_checks

        if snap.close is None and snap.status is None and not snap.unreachable:
            return []  # the handshake is still going on
        findings, _ = run_ws_checks(snap, opts)
        wanted = LIVE_WS
    return [(f, f.code in PROVISIONAL and obs.close is None)
            for f in findings if f.code in wanted]
