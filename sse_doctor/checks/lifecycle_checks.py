"""Checks on how the stream ended (or did not)."""

from __future__ import annotations

from sse_doctor.checks.content_checks import error_events
from sse_doctor.model import Finding, ProbeOptions, SseObservation, finding, when


def check_server_timeout(obs: SseObservation, opts: ProbeOptions) -> list[Finding]:
    if opts.expect_close is None or not obs.streamed or obs.close is None:
        return []
    limit_ms = opts.expect_close * 1000
    if obs.close.by in ("server", "transport") and obs.close.t_ms <= limit_ms:
        return []
    if obs.close.by == "client":  # we stopped early (--max-events): we cannot tell
        return []
    return [finding(
        "no-server-timeout",
        f"The stream was still open after {when(obs.close.t_ms)}; --expect-close "
        f"asked for the server to end it within {opts.expect_close:g} s.",
        expect_close_s=opts.expect_close, open_for_ms=round(obs.close.t_ms, 1))]


def check_premature_close(obs: SseObservation, opts: ProbeOptions) -> list[Finding]:
    if not obs.streamed or obs.close is None:
        return []
    close = obs.close
    if close.by == "transport":
        return [finding(
            "premature-close",
            f"The connection broke at {when(close.t_ms)} after {obs.n_events} "
            f"event(s): {close.reason}. The server most likely raised mid-stream.",
            by=close.by, t_ms=round(close.t_ms, 1), reason=close.reason,
            events_before=obs.n_events)]
    if close.by != "server" or not opts.expect_events:
        return []
    seen = {e.type for e in obs.events}
    missing = [n for n in opts.expect_events if n not in seen]
    if not missing:
        return []
    return [finding(
        "premature-close",
        f"The server ended the stream at {when(close.t_ms)} after {obs.n_events} "
        f"event(s), before {', '.join(repr(m) for m in missing)} arrived.",
        by=close.by, t_ms=round(close.t_ms, 1), missing=missing, events_before=obs.n_events)]


def check_stream_ended(obs: SseObservation, opts: ProbeOptions) -> list[Finding]:
    if not obs.streamed or obs.close is None or obs.close.by != "server":
        return []
    if opts.expect_events or opts.expect_close is not None:
        return []
    if error_events(obs):  # not clean: error-event says how it ended
        return []
    return [finding(
        "stream-ended",
        f"The server ended the stream cleanly at {when(obs.close.t_ms)} after "
        f"{obs.n_events} event(s); a browser would reconnect after its retry delay.",
        t_ms=round(obs.close.t_ms, 1), events=obs.n_events)]
