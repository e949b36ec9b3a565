"""The Socket.IO profile (`--profile socketio`, recognised from a /socket.io/ path or EIO=):
drives an Engine.IO v4 / Socket.IO v5 session as the official client does and checks it.

codec.py and session.py are the sans-I/O core (packets, the session's state and records);
driver.py moves packets over long-polling and a WebSocket; checks.py turns the records into
the six socketio-* findings; this module ties them into the profile framework.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sse_doctor.errors import UsageError
from sse_doctor.model import Finding, ProbeOptions, Result
from sse_doctor.profiles.base import Profile, ProfileContext, finish
from sse_doctor.profiles.core import ProfileResult, Step
from sse_doctor.profiles.hints import socketio_url
from sse_doctor.target import read_text_arg


@dataclass(frozen=True)
class SioOptions:
    namespace: str = "/"
    transport: str | None = None  # None: polling, then upgrade
    sends: tuple[tuple[str, Any], ...] = ()
    expect: tuple[str, ...] = ()
    duration: float = 30.0


def parse_send(raw: str) -> tuple[str, Any]:
    """--send 'NAME JSON' (or @FILE holding it): the event name and its JSON argument."""
    text = read_text_arg(raw, "--send").decode("utf-8", "replace").strip()
    name, _, rest = text.partition(" ")
    if not name or name[0] in "{[\"'":
        raise UsageError(f"--send for socketio needs an event name first: --send 'NAME JSON' "
                         f"(got {raw[:40]!r})")
    rest = rest.strip()
    if not rest:
        return name, None
    try:
        return name, json.loads(rest)
    except ValueError as exc:
        raise UsageError(f"--send {name}: the argument is not JSON ({exc})") from None


def _transport_in_url(url: str) -> str | None:
    try:
        query = dict(parse_qsl(urlsplit(url).query))
    except ValueError:
        return None
    return "websocket" if query.get("transport") == "websocket" else None


class SocketIoProfile(Profile):
    name = "socketio"
    schemes = frozenset({"sse", "ws"})
    auto = True
    codes = ("socketio-handshake-failed", "socketio-session-unknown",
             "socketio-upgrade-failed", "socketio-namespace-rejected",
             "socketio-ping-timeout", "socketio-server-disconnect")

    def options(self, params: dict[str, Any]) -> SioOptions:
        ns = params.get("namespace") or "/"
        if not ns.startswith("/") or any(c in ns for c in ",? \t\r\n"):
            raise UsageError(f"invalid --namespace {ns!r}: expected a path such as /chat")
        transport = params.get("transport")
        if transport is not None:
            transport = getattr(transport, "value", transport)
        elif params.get("url"):
            transport = _transport_in_url(params["url"])
        sends = tuple(parse_send(v) for v in params.get("send") or ())
        expect = tuple(params.get("expect_message") or ())
        if any(not e for e in expect):
            raise UsageError("--expect-message must not be empty")
        return SioOptions(ns, transport, sends, expect, params.get("duration") or 30.0)

    def detect_url(self, url: str) -> str | None:
        return "engine.io-4" if socketio_url(url) else None

    def applies(self, obs: Any) -> bool:
        return getattr(obs, "unreachable", None) is None

    def irrelevant(self, result: ProfileResult) -> frozenset[str]:
        # The profile leaves the session itself (the server then closes the socket); a server
        # that ends the session gets socketio-server-disconnect, in Socket.IO's words.
        return frozenset({"ws-server-closed"})

    async def run(self, ctx: ProfileContext) -> Result:
        from dataclasses import replace

        from sse_doctor.profiles.socketio.driver import Driver
        from sse_doctor.ws.options import WsOptions

        ws_opts = ctx.ws_opts or WsOptions(duration=ctx.opts.duration,
                                           idle_limit=ctx.opts.idle_limit, keep=ctx.opts.keep)
        # --expect-message is matched on events by the session, --send sent as events: the
        # WebSocket checks see neither
        ws_opts = replace(ws_opts, expect_messages=(), send=())
        obs = await Driver(ctx.target, ctx.popts, ws_opts).run()
        result = self.result(obs)
        result.detected = ctx.detected

        def generic(o: Any, _: Any) -> tuple[list[Finding], list[str]]:
            from sse_doctor.profiles.socketio.checks import generic_checks

            return generic_checks(o, ws_opts, ctx.popts)

        res = finish(self, ctx.name, ctx.target, ctx.opts, ctx.popts, obs, result,
                     generic=generic)
        res.protocol = "ws" if obs.carried_by_ws or ctx.target.protocol == "ws" else "sse"
        return res

    def result(self, obs: Any) -> ProfileResult:
        s = obs.session
        steps: list[Step] = []
        for r in obs.requests[:3]:
            steps.append(Step(r.t_ms, f"polling {r.what}", r.status, r.note))
        if s.open_ms is not None and s.handshake is not None:
            h = s.handshake
            steps.append(Step(s.open_ms, "open", "ok",
                              f"sid {h.sid}, pingInterval {h.ping_interval_ms:g} ms, "
                              f"pingTimeout {h.ping_timeout_ms:g} ms, upgrades {list(h.upgrades)}"))
        elif s.handshake_error:
            steps.append(Step(obs.end_ms if not obs.requests else obs.requests[0].t_ms,
                              "open", "failed", s.handshake_error))
        if s.upgrade_started_ms is not None or s.upgrade is not None:
            t = s.upgrade_started_ms if s.upgrade_started_ms is not None else (s.open_ms or 0.0)
            detail = (f"in {s.upgrade_ms:.0f} ms" if s.upgrade == "ok" and s.upgrade_ms is not None
                      else s.upgrade_error or "")
            steps.append(Step(t, "upgrade", s.upgrade, detail))
        if s.connected_ms is not None:
            steps.append(Step(s.connected_ms, "connect", "ok",
                              f"namespace {s.namespace}, sid {s.ns_sid}"))
        elif s.connect_error:
            steps.append(Step(s.disconnect_ms or obs.end_ms, "connect", "refused",
                              s.connect_error))
        for e in s.samples[:10]:
            steps.append(Step(e.t_ms, "event", e.transport, e.excerpt))
        if s.server_disconnect:
            steps.append(Step(s.disconnect_ms or obs.end_ms, "disconnect", "server",
                              s.server_disconnect))
        if s.ping_timeout_ms is not None:
            steps.append(Step(s.ping_timeout_ms, "ping timeout", "client",
                              "no server ping in time: left"))
        if s.left_ms is not None:
            steps.append(Step(s.left_ms, "leave", "client", "DISCONNECT + close packet"))
        steps.sort(key=lambda st: st.t_ms)
        m = s.metrics()
        facts = [("transport", m["transport"] + (f" (upgraded in {m['upgrade_ms']:.0f} ms)"
                                                 if m["upgrade_ms"] is not None else ""))]
        if m["ping_interval_ms"] is not None:
            gap = m["ping_gap_ms"]
            facts.append(("pings", f"{m['pings']} answered; pingInterval "
                                   f"{m['ping_interval_ms']:g} ms" +
                                   (f", gaps p50 {gap['p50']:g} / max {gap['max']:g} ms"
                                    if gap else "")))
        if m["events"] or s.connected_ms is not None:
            by = ", ".join(f"{k} ×{v}" for k, v in list(m["events_by_name"].items())[:8])
            facts.append(("events", f"{m['events']}" + (f" ({by})" if by else "")))
        return ProfileResult(name=self.name, dialect=f"engine.io 4 · {m['transport']}",
                             metrics=m, steps=steps, facts=facts, state=s)

    def check(self, result: ProfileResult, obs: Any, opts: ProbeOptions,
              popts: Any) -> list[Finding]:
        from sse_doctor.profiles.socketio.checks import check_session

        return check_session(obs, popts)


PROFILE = SocketIoProfile()
