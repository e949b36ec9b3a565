"""Pure checks on one WebSocket connection (a WsObservation) -> findings.

Each check answers one question and emits only its own code, so the codes are independent
facts about the connection:

- ws-early-close is about *when*: the server ended the connection (close frame or dropped
  TCP) within EARLY_CLOSE_MS of our first message, or of the handshake when we sent nothing.
  A normal close (1000/1001) after the server answered is a finished exchange, not an early
  close.
- ws-abnormal-close is about *how*: no close frame (1006), or a close code other than
  1000/1001/1005, sent by the server or by us when the server broke the protocol or the
  --max-message-size limit (1002, 1007, 1009).
- ws-server-closed (info) is the rest: the server closed normally inside the window, not right
  after our message; it says when and after which of our messages.

So a handler that crashes 3 ms after our first message and closes with 1011 gets both, and the
two details together say which step failed and how. A 1011 an hour in is ws-abnormal-close
alone; a clean 1000 right after the handshake with nothing sent is ws-early-close alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sse_doctor.checks.selection import run_selected
from sse_doctor.checks.timing_checks import proxy_idle_sentence
from sse_doctor.model import Finding, finding, when
from sse_doctor.units import ms_text, same_unit, size_text
from sse_doctor.ws import closecodes
from sse_doctor.ws.observation import WsFrame, WsObservation

EARLY_CLOSE_MS = 1000.0  # "right after": within this long of our first message (or the open)
BODY_SHOWN = 200  # characters of a refused handshake's body quoted in the detail

Check = Callable[[WsObservation, Any], list[Finding]]


def message_label(frame: WsFrame, number: int | None = None) -> str:
    """'#1 (text 18 B '{"prompt":"hello"}')'"""
    text = (frame.text or "").replace("\n", " ")
    shown = f" {text[:60]!r}" + ("…" if len(text) > 60 or frame.truncated else "") if text else ""
    head = f"#{number} " if number is not None else ""
    return f"{head}({frame.type} {size_text(frame.size)}{shown})"


def how_closed(obs: WsObservation) -> str:
    """'closed with 1011 (internal error) "KeyError: 'language'"' or 'dropped the TCP ...'"""
    close = obs.close
    assert close is not None
    if close.by == "transport":
        what = "reset the TCP connection (RST)" if obs.tcp_end == "reset" \
            else "closed the TCP connection (FIN)"
        return f"{what} without a close frame (1006)"
    text = f"closed with {close.code} ({closecodes.name(close.code)})"
    if close.reason:
        text += f' "{close.reason}"'
    return text


# --- the checks ----------------------------------------------------------------------------


def check_unreachable(obs: WsObservation, opts: Any) -> list[Finding]:
    if obs.unreachable is None:
        return []
    return [finding("target-unreachable", f"No WebSocket handshake answer from {obs.url}: "
                    f"{obs.unreachable}.", reason=obs.unreachable)]


_STATUS_HINTS = {
    400: "the server rejected the handshake request itself (a missing or unsupported "
         "Sec-WebSocket-Version, or a subprotocol it requires: --subprotocol)",
    401: "authentication is required: pass credentials with --bearer, --cookie or -H",
    403: "an Origin check or authorization refused it: compare --origin and credentials "
         "with what a browser sends (Starlette and FastAPI also answer 403 when no WebSocket "
         "route matches the path)",
    404: "no WebSocket route at this path, or a server that handles the upgrade as a plain "
         "HTTP request: check the URL, and that the server has WebSocket support",
    405: "the route exists but not for GET upgrades",
    426: "the server asks for another protocol version or for TLS (wss://)",
    429: "rate-limited: back off before reconnecting",
}


def cannot_upgrade(obs: WsObservation) -> bool:
    """The server answered the upgrade on its plain HTTP path: it has no WebSocket support.

    uvicorn without a WebSocket library (neither websockets nor wsproto installed, or
    --ws none) logs "Unsupported upgrade request" and passes the request to the app as HTTP,
    where a Starlette WebSocketRoute never matches: 404 'Not Found' with uvicorn's default
    `server: uvicorn` header. With a WebSocket library, uvicorn refuses a handshake from its
    WebSocket implementation (403, no `server` header), and a missing route is a 403 too.
    So a non-101 answer carrying uvicorn's server header means the upgrade was never tried.
    """
    server = (obs.header("server") or "").strip().lower()
    return obs.status is not None and obs.status != 101 and server.startswith("uvicorn")


def _status_hint(obs: WsObservation) -> str:
    status = obs.status
    if status is None:
        return "the answer was not a WebSocket upgrade"
    if cannot_upgrade(obs):
        return ("the server (uvicorn) answered the upgrade as a plain HTTP request: it cannot "
                "upgrade to WebSocket at all, whatever the path. uvicorn needs a WebSocket "
                "library: pip install 'uvicorn[standard]' (or websockets); its log says "
                "'No supported WebSocket library detected'")
    if status == 101:
        return "the server or a proxy answered 101 but not with a valid WebSocket upgrade"
    if status in _STATUS_HINTS:
        return _STATUS_HINTS[status]
    if 200 <= status < 300:
        ctype = (obs.header("content-type") or "").split(";")[0].strip().lower()
        if ctype == "text/event-stream":
            return ("this is a Server-Sent Events endpoint, not a WebSocket: probe it with "
                    "http:// or https://")
        return ("a plain HTTP endpoint answered: a wrong path, or a proxy in front that does not "
                "pass the Upgrade and Connection headers")
    if 300 <= status < 400:
        return "the handshake was redirected and the redirect did not lead to a WebSocket"
    if 500 <= status < 600:
        return "the server or a proxy failed before the upgrade: check its logs"
    return "the server did not switch protocols"


def check_handshake(obs: WsObservation, opts: Any) -> list[Finding]:
    if obs.unreachable is not None or obs.opened:
        return []
    error = obs.handshake_error or f"HTTP {obs.status} instead of 101 Switching Protocols"
    body = obs.body_excerpt.decode("utf-8", "replace").strip()
    detail = error
    if body:
        detail += f": {body[:BODY_SHOWN]!r}" + ("…" if len(body) > BODY_SHOWN else "")
    detail += f". {_status_hint(obs)[0].upper()}{_status_hint(obs)[1:]}."
    evidence: dict[str, Any] = {"status": obs.status, "reason": obs.reason_phrase or None,
                                "body_excerpt": body[:512]}
    for name in ("content-type", "server", "location", "www-authenticate"):
        value = obs.header(name)
        if value is not None:
            evidence[name] = value
    if cannot_upgrade(obs):
        evidence["websocket_support"] = False
    return [finding("ws-handshake-failed", detail, **evidence)]


def check_early_close(obs: WsObservation, opts: Any) -> list[Finding]:
    close = obs.close
    if not obs.opened or close is None or close.by not in ("server", "transport"):
        return []
    assert obs.headers_ms is not None
    outs = [f for f in obs.data_frames("out") if f.t_ms <= close.t_ms]
    ins = [f for f in obs.data_frames("in") if f.t_ms <= close.t_ms]
    ref = outs[0].t_ms if outs else obs.headers_ms
    if close.t_ms - ref > EARLY_CLOSE_MS:
        return []
    replies = [f for f in ins if f.t_ms >= ref]
    if close.by == "server" and close.code in (1000, 1001) and replies:
        return []  # it answered and said goodbye: a finished exchange
    how = how_closed(obs)
    evidence: dict[str, Any] = {"by": close.by, "close_code": close.code, "reason": close.reason,
                                "close_ms": round(close.t_ms, 1),
                                "close_frame": obs.close_frame_received,
                                "messages_sent": len(outs), "messages_received": len(ins)}
    if outs:
        last = outs[-1]
        since = close.t_ms - last.t_ms
        detail = (f"The server {how} {ms_text(since)} after your message "
                  f"{message_label(last, len(outs))}")
        if len(outs) > 1:
            detail += f", {ms_text(close.t_ms - ref)} after your first"
        if replies:
            detail += f"; it had sent {len(replies)} message(s) since your first, the last "
            detail += f"{message_label(replies[-1])}."
        else:
            detail += ", without sending any message after it."
        detail += (" The handler most likely failed while processing that message: look in the "
                   "server log at that moment.")
        evidence.update(after_message=len(outs), ms_after_message=round(since, 1))
    else:
        since = close.t_ms - obs.headers_ms
        detail = f"The server {how} {ms_text(since)} after the handshake, before you sent anything"
        detail += (f"; it had sent {len(ins)} message(s)." if ins
                   else " and before sending anything itself.")
        detail += (" It may expect a first message (send one with --send) or refuse this client "
                   "after accepting it.")
        evidence.update(ms_after_open=round(since, 1))
    return [finding("ws-early-close", detail, **evidence)]


def check_server_closed(obs: WsObservation, opts: Any) -> list[Finding]:
    """A normal close by the server inside the window (1000, 1001, or a close frame without a
    code): nothing broke, but a client that means to stay connected was sent away. The SSE
    counterpart is stream-ended. A close ws-early-close already reports is not repeated."""
    close = obs.close
    if not obs.opened or close is None or close.by != "server" \
            or close.code not in closecodes.NORMAL or check_early_close(obs, opts):
        return []
    assert obs.headers_ms is not None
    outs = [f for f in obs.data_frames("out") if f.t_ms <= close.t_ms]
    ins = [f for f in obs.data_frames("in") if f.t_ms <= close.t_ms]
    code = "no code" if close.code == 1005 else f"{close.code} ({closecodes.name(close.code)})"
    detail = f"The server closed the WebSocket normally with {code}"
    if close.reason:
        detail += f' "{close.reason}"'
    detail += f" at {when(close.t_ms)}"
    evidence: dict[str, Any] = {"close_code": close.code, "reason": close.reason,
                                "close_ms": round(close.t_ms, 1),
                                "messages_sent": len(outs), "messages_received": len(ins),
                                "after_message": len(outs) or None}
    if outs:
        since = close.t_ms - outs[-1].t_ms
        detail += f", {when(since)} after your message {message_label(outs[-1], len(outs))}"
        evidence["ms_after_message"] = round(since, 1)
    else:
        since = close.t_ms - obs.headers_ms
        detail += f", {when(since)} after the handshake (you sent nothing)"
        evidence["ms_after_open"] = round(since, 1)
    detail += (f", having sent {len(ins)} message(s). A client that should stay connected must "
               "reconnect; check the server's idle, session or protocol timeouts if it should "
               "not have ended.")
    return [finding("ws-server-closed", detail, **evidence)]


def check_abnormal_close(obs: WsObservation, opts: Any) -> list[Finding]:
    close = obs.close
    if not obs.opened or close is None:
        return []
    at = f"at {when(close.t_ms)}"
    evidence: dict[str, Any] = {"by": close.by, "close_code": close.code, "reason": close.reason,
                                "close_ms": round(close.t_ms, 1),
                                "close_frame_received": obs.close_frame_received,
                                "meaning": closecodes.meaning(close.code)}
    if close.by == "transport":
        detail = (f"No close frame: the server {how_closed(obs)} {at}, after "
                  f"{obs.n_messages_in} message(s) in and {obs.n_messages_out} out. "
                  f"{closecodes.describe(1006)}.")
        evidence["tcp_end"] = obs.tcp_end
        return [finding("ws-abnormal-close", detail, **evidence)]
    if not closecodes.is_abnormal(close.code):
        return []
    if close.by == "server":
        detail = f"The server closed with {closecodes.describe(close.code)} {at}"
        detail += f', reason "{close.reason}".' if close.reason else ", with no reason."
        return [finding("ws-abnormal-close", detail, **evidence)]
    if close.by in ("client", "deadline"):
        limit = size_text(obs.max_message_size) if obs.max_message_size else "the limit"
        if obs.oversize:
            detail = (f"The server sent a message over --max-message-size ({limit}) {at}: "
                      f"{obs.oversize}. sse-doctor failed the connection with "
                      f"{closecodes.describe(close.code)}, as most clients would (the "
                      f"websockets default is 1 MiB). Send big payloads in parts, or raise the "
                      f"limit on both ends.")
            evidence["max_message_size"] = obs.max_message_size
        elif obs.protocol_error:
            detail = (f"The server sent a frame that breaks the WebSocket protocol {at} "
                      f"({obs.protocol_error}); sse-doctor failed the connection with "
                      f"{closecodes.describe(close.code)}. Every client will drop it.")
            evidence["protocol_error"] = obs.protocol_error
        else:
            detail = f"sse-doctor closed with {closecodes.describe(close.code)} {at}."
        return [finding("ws-abnormal-close", detail, **evidence)]
    return []


def check_keepalive(obs: WsObservation, opts: Any) -> list[Finding]:
    limit_ms = opts.idle_limit * 1000
    long = [(a, b) for a, b in obs.silences() if b - a > limit_ms]
    if not long:
        return []
    a, b = max(long, key=lambda g: g[1] - g[0])
    sent = sum(n for t, n in obs.n_in.items() if t != "pong")
    long_text, a_text, b_text = same_unit(b - a, a, b)
    detail = (f"No frame from the server for {long_text} (from {a_text} to {b_text}), "
              f"longer than --idle-limit {opts.idle_limit:g} s")
    if len(long) > 1:
        detail += f"; {len(long)} silences over the limit"
    if sent == 0:
        detail += ". The server sent no message and no ping at all"
    else:
        detail += (f". In all it sent {obs.n_messages_in} message(s) and {obs.n_in['ping']} "
                   f"ping(s)")
    if obs.n_in["pong"]:
        detail += " (pongs to our pings do not count: they only answer the client)"
    detail += ". " + proxy_idle_sentence(b - a)
    return [finding("ws-no-keepalive", detail, longest_silence_ms=round(b - a, 1),
                    from_ms=round(a, 1), to_ms=round(b, 1), idle_limit_s=opts.idle_limit,
                    silences_over_limit=len(long))]


def check_pong_timeout(obs: WsObservation, opts: Any) -> list[Finding]:
    if not obs.opened or not obs.pings or obs.pong_deadline_ms is None:
        return []
    deadline = obs.pong_deadline_ms
    end = obs.open_until_ms
    judged, late = [], []
    for p in obs.pings:
        if p.pong_ms is not None:
            judged.append(p)
            if p.pong_ms - p.t_ms > deadline:
                late.append(p)
        elif p.t_ms + deadline <= end:
            judged.append(p)
            late.append(p)
    if not late:
        return []
    answered = sum(1 for p in obs.pings if p.pong_ms is not None)
    detail = (f"{len(late)} of {len(judged)} ping(s) got no pong within {when(deadline)} "
              f"(the first sent at {when(late[0].t_ms)})")
    detail += f"; {answered} pong(s) arrived in all" if answered else "; no pong arrived at all"
    if obs.n_messages_in:
        detail += (f", while {obs.n_messages_in} message(s) did: the connection is alive but "
                   f"control frames go unanswered")
    detail += "."
    return [finding("ws-pong-timeout", detail, pings=len(obs.pings), late=len(late),
                    answered=answered, deadline_ms=round(deadline, 1),
                    first_late_ms=round(late[0].t_ms, 1))]


def check_expected_messages(obs: WsObservation, opts: Any) -> list[Finding]:
    expected = list(getattr(opts, "expect_messages", ()) or ())
    if not obs.opened or not expected:
        return []
    missing = [s for s in expected if obs.expect_hits.get(s) is None]
    if not missing:
        return []
    assert obs.headers_ms is not None
    open_ms = max(0.0, obs.open_until_ms - obs.headers_ms)
    detail = (f"No message containing {', '.join(repr(m) for m in missing)} arrived: "
              f"{obs.n_messages_in} message(s) in {when(open_ms)}")
    close = obs.close
    if close is not None and close.by in ("server", "transport", "client"):
        detail += f"; the connection ended at {when(close.t_ms)} ({close.by})"
    detail += "."
    return [finding("ws-missing-expected-message", detail, missing=missing,
                    messages=obs.n_messages_in)]


def run_ws_checks(obs: WsObservation, opts: Any) -> tuple[list[Finding], list[str]]:
    """Findings, and the codes evaluated (one JUnit testcase each)."""
    if obs.unreachable is not None:
        return check_unreachable(obs, opts), ["target-unreachable"]
    selected: list[tuple[str, Check]] = [("ws-handshake-failed", check_handshake)]
    if obs.opened:
        selected += [("ws-early-close", check_early_close),
                 ("ws-abnormal-close", check_abnormal_close),
                 ("ws-server-closed", check_server_closed),
                 ("ws-no-keepalive", check_keepalive)]
        if getattr(opts, "ping_interval", None):
            selected.append(("ws-pong-timeout", check_pong_timeout))
        if getattr(opts, "expect_messages", None):
            selected.append(("ws-missing-expected-message", check_expected_messages))
    return run_selected(selected, obs, opts)
