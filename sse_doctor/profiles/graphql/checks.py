"""The GraphQL profile's checks: pure, from the session's records and the transport's
observation to the six graphql-* findings."""

from __future__ import annotations

from typing import Any

from sse_doctor.checks.timing_checks import proxy_idle_sentence
from sse_doctor.model import Finding, SseObservation, finding
from sse_doctor.profiles.graphql.protocol import (
    SSE,
    SUBPROTOCOLS,
    GqlSession,
    close_words,
    is_graphql_close,
)
from sse_doctor.units import ms_text
from sse_doctor.ws.observation import WsObservation

# Generic notes the profile's own checks replace: keepalive is judged by graphql-no-keepalive
# (results, protocol pings and ka count too), the end of an SSE stream by graphql-no-complete.
REPLACED = frozenset({"ws-no-keepalive", "no-heartbeat"})
REPLACED_BY_CLOSE_CODE = frozenset({"ws-early-close", "ws-abnormal-close"})


def filter_generic(findings: list[Finding], checks_run: list[str], obs: Any,
                   session: GqlSession) -> tuple[list[Finding], list[str]]:
    drop = set(REPLACED)
    if isinstance(obs, WsObservation) and obs.close is not None and obs.close.by == "server" \
            and is_graphql_close(obs.close.code):
        drop |= REPLACED_BY_CLOSE_CODE
    if isinstance(obs, WsObservation) and obs.opened and (
            obs.subprotocol not in SUBPROTOCOLS or session.invalid_ms is not None):
        drop |= REPLACED_BY_CLOSE_CODE
    return ([f for f in findings if f.code not in drop],
            [c for c in checks_run if c not in drop])


def _silences(obs: Any) -> list[tuple[float, float]]:
    if isinstance(obs, WsObservation):
        return obs.silences()
    if isinstance(obs, SseObservation) and obs.streamed and obs.headers_ms is not None:
        end = obs.close.t_ms if obs.close is not None else obs.end_ms
        times = [c.t_ms for c in obs.chunks if obs.headers_ms <= c.t_ms <= end]
        points = [obs.headers_ms, *times, end]
        return list(zip(points, points[1:]))
    return []


def _server_close_code(obs: Any) -> int | None:
    close = getattr(obs, "close", None)
    return close.code if close is not None and close.by == "server" else None


def _subprotocol_mismatch(obs: Any) -> Finding | None:
    ws = obs if isinstance(obs, WsObservation) else None
    server_code = _server_close_code(obs)
    if ws is None or not ws.opened or (ws.subprotocol in SUBPROTOCOLS and server_code != 4406):
        return None
    picked = ws.subprotocol or "none"
    detail = (f"The server accepted the WebSocket with subprotocol {picked} although "
              f"{' and '.join(SUBPROTOCOLS)} were offered")
    if server_code is not None:
        detail += f", then closed with {server_code}" + (
            f' "{obs.close.reason}"' if obs.close.reason else "")
    return finding("graphql-subprotocol-mismatch", detail + ".", subprotocol=picked,
                   offered=list(SUBPROTOCOLS), close_code=server_code)


def _ack_timeout(s: GqlSession) -> list[Finding]:
    if s.connection_error is not None:
        return [finding("graphql-ack-timeout",
                        f"The server answered connection_init with connection_error "
                        f"({s.connection_error}) instead of connection_ack.",
                        connection_error=s.connection_error)]
    if s.ack_waited_ms is not None:
        return [finding("graphql-ack-timeout",
                        f"No connection_ack within {ms_text(s.ack_waited_ms)} (--timeout) "
                        f"of connection_init on {s.dialect}.",
                        waited_ms=round(s.ack_waited_ms, 1))]
    return []


def _close_code(s: GqlSession, obs: Any) -> list[Finding]:
    """The server's own GraphQL close code, or the 4400 we closed with on an unreadable
    message (as the graphql-ws client does)."""
    server_code = _server_close_code(obs)
    out: list[Finding] = []
    if is_graphql_close(server_code):
        close = obs.close
        words = close_words(server_code)
        step = "before the connection_ack" if not s.acked else (
            "while the operation ran" if s.complete_ms is None else "after complete")
        out.append(finding("graphql-close-code",
                           f"The server closed with {server_code} ({words}) at "
                           f"{ms_text(close.t_ms)}, {step}" + (
                               f': "{close.reason}".' if close.reason else "."),
                           close_code=server_code, reason=close.reason, meaning=words))
    if s.invalid_ms is not None and not is_graphql_close(server_code) and s.dialect != SSE:
        out.append(finding("graphql-close-code",
                           f"At {ms_text(s.invalid_ms)} the server sent a message no GraphQL "
                           f"client can read ({'; '.join(s.unknown_examples[:3])}): sse-doctor "
                           f"closed with 4400 ({close_words(4400)}), as the graphql-ws client "
                           f"does.", close_code=4400, by="client",
                           messages=s.unknown_examples[:3]))
    return out


def _operation_error(s: GqlSession) -> list[Finding]:
    if not s.errors:
        return []
    where = "error message" if s.dialect != SSE else "next event"
    return [finding("graphql-operation-error",
                    f"{s.n_errors} GraphQL error(s) (first at {ms_text(s.error_ms or 0)}, "
                    f"after {s.results} result(s)): " + "; ".join(repr(m) for m in s.errors)
                    + ".", messages=s.errors, count=s.n_errors, first_in=where)]


def _no_complete(s: GqlSession, obs: Any) -> list[Finding]:
    if s.complete_ms is not None or s.subscribe_ms is None or s.errors:
        return []
    close = getattr(obs, "close", None)
    if s.dialect == SSE:
        ended_early = close is not None and close.by in ("server", "transport") and \
            isinstance(obs, SseObservation) and obs.streamed
    else:
        ended_early = s.kind != "subscription" and s.acked and \
            not is_graphql_close(_server_close_code(obs))
    if not ended_early:
        return []
    what = "the SSE stream" if s.dialect == SSE else f"the {s.kind}"
    how = (f"the server ended it at {ms_text(close.t_ms)}" if close is not None
           and close.by in ("server", "transport") else "the window ended")
    return [finding("graphql-no-complete",
                    f"{what[0].upper() + what[1:]} ended without complete: {how} after "
                    f"{s.results} result(s).", results=s.results, operation=s.kind)]


def _no_keepalive(s: GqlSession, obs: Any, idle_limit_s: float) -> list[Finding]:
    limit_ms = idle_limit_s * 1000
    long = [(a, b) for a, b in _silences(obs) if b - a > limit_ms]
    if not long or not (s.acked or s.dialect == SSE):
        return []
    a, b = max(long, key=lambda g: g[1] - g[0])
    kinds = ", ".join(f"{k} {v}" for k, v in s.keepalive_counts(obs).items())
    return [finding("graphql-no-keepalive",
                    f"Nothing from the server for {ms_text(b - a)} (from {ms_text(a)} to "
                    f"{ms_text(b)}), longer than --idle-limit {idle_limit_s:g} s; "
                    f"keepalives seen: {kinds}. " + proxy_idle_sentence(b - a),
                    longest_silence_ms=round(b - a, 1), idle_limit_s=idle_limit_s)]


def check_session(s: GqlSession, obs: Any, idle_limit_s: float) -> list[Finding]:
    """Every GraphQL finding of one conversation; one function per code. A subprotocol
    mismatch decides alone (nothing after it is GraphQL)."""
    mismatch = _subprotocol_mismatch(obs)
    if mismatch is not None:
        return [mismatch]
    return [*_ack_timeout(s), *_close_code(s, obs), *_operation_error(s),
            *_no_complete(s, obs), *_no_keepalive(s, obs, idle_limit_s)]
