"""The Socket.IO profile's checks: pure, from the session's records (and the WebSocket's
observation, for the generic WebSocket checks) to findings."""

from __future__ import annotations

from typing import Any

from sse_doctor.checks.ws_checks import run_ws_checks
from sse_doctor.model import Finding, finding
from sse_doctor.profiles.socketio.observation import SioObservation
from sse_doctor.units import ms_text


def generic_checks(obs: SioObservation, ws_opts: Any, popts: Any) -> tuple[list[Finding],
                                                                               list[str]]:
    """The WebSocket checks on the socket that carried the session, target-unreachable, and
    the --expect-message check on the session's events (names or payload text)."""
    findings: list[Finding] = []
    run: list[str] = []
    if obs.unreachable is not None:
        return [finding("target-unreachable", f"No answer from {obs.url}: {obs.unreachable}.",
                        reason=obs.unreachable)], ["target-unreachable"]
    if obs.carried_by_ws:
        findings, run = run_ws_checks(obs.ws, ws_opts)
    if popts.expect:
        run.append("ws-missing-expected-message")
        s = obs.session
        missing = [e for e, t in s.expect_hits.items() if t is None]
        if missing:
            findings.append(finding(
                "ws-missing-expected-message",
                f"No event named or containing {', '.join(repr(m) for m in missing)} arrived: "
                f"{s.n_events} event(s) in the window.", missing=missing, events=s.n_events))
    return findings, run


def check_session(obs: SioObservation, popts: Any) -> list[Finding]:
    s = obs.session
    out: list[Finding] = []
    if s.handshake_error:
        out.append(finding("socketio-handshake-failed", _handshake_words(s.handshake_error),
                           reason=s.handshake_error))
        return out
    if s.handshake is None:
        return out
    if s.session_unknown:
        out.append(finding(
            "socketio-session-unknown",
            f"The polling handshake opened session {s.handshake.sid}, then {s.session_unknown}. "
            "Behind a load balancer without sticky sessions, each request of a Socket.IO "
            "session may land on another server process.", reason=s.session_unknown))
    if s.upgrade in ("failed", "not-offered"):
        out.append(finding(
            "socketio-upgrade-failed",
            f"Long-polling works, but {s.upgrade_error}; the session stays on HTTP "
            "long-polling (a request per message, more latency and load).",
            upgrade=s.upgrade, reason=s.upgrade_error))
    if s.connect_error:
        out.append(finding(
            "socketio-namespace-rejected",
            f"Namespace {s.namespace!r} refused the connection: {s.connect_error}.",
            namespace=s.namespace, message=s.connect_error))
    if s.ping_timeout_ms is not None:
        h = s.handshake
        since = s.last_ping_ms if s.last_ping_ms is not None else s.open_ms
        out.append(finding(
            "socketio-ping-timeout",
            f"No server ping for {ms_text(s.ping_timeout_ms - (since or 0.0))} (from "
            f"{ms_text(since or 0.0)} to {ms_text(s.ping_timeout_ms)}), more than pingInterval "
            f"{h.ping_interval_ms:g} ms + pingTimeout {h.ping_timeout_ms:g} ms; the official "
            f"client drops the connection then and reconnects. {s.pings} ping(s) arrived before.",
            pings=s.pings, at_ms=round(s.ping_timeout_ms, 1),
            ping_interval_ms=h.ping_interval_ms, ping_timeout_ms=h.ping_timeout_ms))
    if s.server_disconnect and not s.session_unknown:
        at = s.disconnect_ms if s.disconnect_ms is not None else obs.end_ms
        detail = f"The session ended at {ms_text(at)}, inside the window: {s.server_disconnect}."
        if s.malformed:
            detail += f" Before that, {s.malformed} malformed packet(s): " + \
                      "; ".join(s.malformed_examples[:3]) + "."
        out.append(finding("socketio-server-disconnect", detail, reason=s.server_disconnect,
                           at_ms=round(at, 1), events=s.n_events))
    elif s.parse_error_ms is not None:
        # The official client drops the connection on a packet it cannot decode ("parse
        # error"): the session is over for it, whatever the server meant.
        out.append(finding(
            "socketio-server-disconnect",
            f"At {ms_text(s.parse_error_ms)} the server sent a packet the official client "
            f"cannot decode (" + "; ".join(s.malformed_examples[:3]) + "): it drops the "
            "connection with 'parse error', as sse-doctor did.", reason="parse error",
            malformed=s.malformed, at_ms=round(s.parse_error_ms, 1)))
    return out


def _handshake_words(reason: str) -> str:
    low = reason.lower()
    if "unsupported" in low or "engine.io error 5" in low:
        return (f"The server refuses Engine.IO v4: {reason}. Client and server speak different "
                "major versions (Socket.IO v2 servers speak Engine.IO v3).")
    return f"The Engine.IO handshake failed: {reason}."
