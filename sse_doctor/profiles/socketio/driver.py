"""The I/O shell of the Socket.IO profile: moves the session core's packets over HTTP
long-polling (httpx) and a WebSocket (websockets, through ws.conversation), as the official
client does: the polling handshake, then the upgrade (``2probe`` / ``3probe`` / ``5``), or
straight to a WebSocket with ``--transport websocket``.

Every wait has a deadline: each request by --timeout (a long poll by the server's
pingInterval + pingTimeout as well), the upgrade probe by --timeout, everything by the window.
Response bodies are read up to MAX_BODY bytes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from sse_doctor.model import Close
from sse_doctor.profiles.socketio import codec
from sse_doctor.profiles.socketio.observation import PollRequest, SioObservation
from sse_doctor.profiles.socketio.protocol import SioSession
from sse_doctor.sse.transport import describe_connect_error, make_client
from sse_doctor.target import Target
from sse_doctor.ws import closecodes
from sse_doctor.ws.conversation import WsLink
from sse_doctor.ws.options import WsOptions

MAX_BODY = 1 << 20  # a polling response read up to this (python-engineio's maxPayload default)
_DROP_PARAMS = {"eio", "transport", "sid", "t", "j", "b64"}


def engineio_url(url: str, transport: str, sid: str | None = None) -> str:
    """The user's URL as the Engine.IO endpoint for a transport: http(s) for polling, ws(s)
    for a WebSocket, /socket.io/ when no path was given, EIO=4, and the session id."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    scheme = ("wss" if secure else "ws") if transport == "websocket" else (
        "https" if secure else "http")
    path = parts.path if parts.path not in ("", "/") else "/socket.io/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in _DROP_PARAMS]
    query += [("EIO", "4"), ("transport", transport)]
    if sid is not None:
        query.append(("sid", sid))
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


class Driver:
    def __init__(self, target: Target, popts: Any, ws_opts: WsOptions) -> None:
        self.target = target
        self.popts = popts
        self.ws_opts = ws_opts
        self.t0 = time.perf_counter()
        self.end = self.t0 + popts.duration
        self.session = SioSession(namespace=popts.namespace, sends=popts.sends,
                                  expect=popts.expect)
        self.obs = SioObservation(url=target.url, session=self.session,
                                  started_at=datetime.now(timezone.utc),
                                  window_s=popts.duration)
        self.link: WsLink | None = None
        self.probe_answered = asyncio.Event()
        self.stop_polling = False

    def ms(self, t: float | None = None) -> float:
        return ((time.perf_counter() if t is None else t) - self.t0) * 1000

    # --- HTTP long-polling ------------------------------------------------------------------------
    async def _request(self, client: httpx.AsyncClient, method: str, what: str,
                       body: str | None, wait_s: float) -> tuple[int, bytes] | None:
        """One polling request, recorded; None when it got no answer (recorded too)."""
        sid = self.session.handshake.sid if self.session.handshake else None
        url = engineio_url(self.target.url, "polling", sid)
        headers = [h for h in self.target.headers]
        if body is not None:
            headers.append(("Content-Type", "text/plain;charset=UTF-8"))
        t = time.perf_counter()
        status: int | None = None
        data = bytearray()
        note = ""

        async def exchange() -> None:
            nonlocal status, note
            async with client.stream(method, url, headers=headers,
                                     content=body.encode() if body is not None else None) as r:
                status = r.status_code
                async for chunk in r.aiter_bytes():
                    data.extend(chunk[:MAX_BODY - len(data)])
                    if len(data) >= MAX_BODY:
                        note = f"body cut at {MAX_BODY} bytes"
                        self.session.oversized(MAX_BODY)
                        return

        try:
            await asyncio.wait_for(exchange(), max(0.01, wait_s))
        except (TimeoutError, asyncio.TimeoutError):
            note = f"no answer within {wait_s:.1f} s"
        except httpx.HTTPError as exc:
            note = describe_connect_error(exc)
            if what == "handshake":
                self.obs.unreachable = note
        packets = len(codec.decode_payload(bytes(data))) if status == 200 else 0
        self.obs.add(PollRequest(self.ms(t), method, what, status, self.ms() - self.ms(t),
                                 len(data), packets, note))
        if status is None:
            if what == "handshake" and self.obs.unreachable is None:
                self.obs.unreachable = f"timeout: no answer to the polling handshake within " \
                                       f"{self.target.timeout:g} s"
            return None
        return status, bytes(data)

    async def _post(self, client: httpx.AsyncClient, packets: list[str], what: str) -> None:
        if not packets:
            return
        got = await self._request(client, "POST", what, codec.encode_payload(packets),
                                  min(self.target.timeout, max(0.01, self.end - time.perf_counter()
                                                               + self.target.timeout)))
        if got is not None and got[0] != 200:
            self.session.refused(got[0], got[1], f"long-polling POST ({what})")

    async def _poll_loop(self, client: httpx.AsyncClient) -> None:
        s = self.session
        while not s.over and not self.stop_polling and s.left_ms is None:
            now = time.perf_counter()
            if now >= self.end:
                return
            ping_due = s.ping_deadline()
            until = self.end if ping_due is None else min(self.end, self.t0 + ping_due / 1000)
            got = await self._request(client, "GET", "poll", None,
                                      max(0.01, until - now) + 0.05)
            if got is None:
                if s.check_ping(self.ms()):
                    return
                continue  # the window ended (the loop test says so) or a slow answer
            status, body = got
            if status != 200:
                s.refused(status, body, "long-polling GET")
                return
            t = self.ms()
            out: list[str] = []
            for record in codec.decode_payload(body):
                out += s.receive(t, record, "polling")
            if s.transport == "websocket" and self.link is not None:
                for p in out:
                    self.link.send(p)
            else:
                await self._post(client, out, "reply")

    # --- WebSocket ----------
    def _heard(self, t: float, is_text: bool, data: bytes) -> None:
        s = self.session
        raw: str | bytes = data.decode("utf-8", "replace") if is_text else data
        assert self.link is not None
        if s.probe_answer(raw):
            self.probe_answered.set()
            return
        if s.handshake is None and s.handshake_error is None:
            out = s.opened(self.ms(t), raw, "websocket")  # --transport websocket
        else:
            out = s.receive(self.ms(t), raw, "websocket")
        for p in out:
            self.link.send(p)

    def _ws_opts(self) -> WsOptions:
        o = self.ws_opts
        return WsOptions(duration=self.popts.duration, idle_limit=o.idle_limit,
                         keep=o.keep, subprotocols=o.subprotocols, origin=o.origin,
                         max_message_size=o.max_message_size)

    async def _open_ws(self, sid: str | None) -> bool:
        url = engineio_url(self.target.url, "websocket", sid)
        from dataclasses import replace

        self.link = WsLink(replace(self.target, url=url, protocol="ws"), self._ws_opts(),
                           self._heard)
        t = time.perf_counter()
        opened = await self.link.open()
        self.obs.ws = self.link.obs
        self.obs.ws_offset_ms = self.ms(self.link.t0 or t)
        return opened

    async def _hold_ws(self) -> None:
        """The session on the WebSocket until the window ends, the session is over, the socket
        closes, or the server's ping is overdue."""
        s = self.session
        link = self.link
        assert link is not None
        while time.perf_counter() < self.end and not s.over and not link.rec.closing.is_set():
            due = s.ping_deadline()
            until = self.end if due is None else min(self.end, self.t0 + due / 1000 + 0.05)
            await link.wait(until, lambda: s.over)
            s.check_ping(self.ms())
        if link.rec.closing.is_set() and not s.over and s.left_ms is None:
            obs = link.obs
            t = time.perf_counter()
            link.rec.finish(t)  # who closed, with which code: for the words below
            close = obs.close
            if close is not None and close.by == "server":
                how = (f"the server closed the WebSocket with {closecodes.describe(close.code)}"
                       + (f' "{close.reason}"' if close.reason else "")
                       + " without a Socket.IO DISCONNECT or Engine.IO close packet")
            else:
                how = "the WebSocket's TCP connection ended without a close frame"
            s.transport_closed(self.ms(t), how)

    async def _leave_ws(self) -> None:
        assert self.link is not None
        s = self.session
        for p in s.leave(self.ms()):
            self.link.send(p)
        window_over = time.perf_counter() >= self.end
        by = "deadline" if window_over else "client"
        reason = "sse-doctor: observation window over" if window_over else \
            "sse-doctor: " + ("ping timeout" if s.ping_timeout_ms is not None else
                              "parse error" if s.parse_error_ms is not None else "session over")
        await self.link.close(by, reason)

    # --- the whole conversation ----------
    async def run(self) -> SioObservation:
        if self.popts.transport == "websocket":
            await self._direct()
        else:
            async with make_client(self.target, max_connections=4) as client:
                await self._polling(client)
        self.obs.end_ms = self.ms()
        if not self.obs.carried_by_ws and self.obs.unreachable is None:
            self.obs.close = self._polling_close()
        return self.obs

    def _polling_close(self) -> Close:
        """How a session without a WebSocket ended, in the report's close terms."""
        s = self.session
        end = self.obs.end_ms
        server = s.server_disconnect or s.session_unknown or s.handshake_error or s.connect_error
        if server:
            return Close("server", s.disconnect_ms if s.disconnect_ms is not None else end,
                         None, server)
        if s.ping_timeout_ms is not None:
            return Close("client", s.ping_timeout_ms, None, "sse-doctor: ping timeout")
        if s.parse_error_ms is not None:
            return Close("client", s.parse_error_ms, None, "sse-doctor: parse error")
        return Close("deadline", s.left_ms if s.left_ms is not None else end, None,
                     "sse-doctor: observation window over")

    async def _direct(self) -> None:
        s = self.session
        if not await self._open_ws(None):
            ws = self.obs.ws
            if ws.unreachable:
                self.obs.unreachable = ws.unreachable
            else:
                s.websocket_refused(ws.status, ws.body_excerpt, ws.handshake_error)
            return
        s.on_websocket()
        assert self.link is not None
        open_by = time.perf_counter() + self.target.timeout
        await self.link.wait(min(self.end, open_by),
                             lambda: s.handshake is not None or s.handshake_error is not None)
        s.no_open_packet(self.target.timeout)
        if s.handshake is not None:
            await self._await_connect()
            await self._hold_ws()
        await self._leave_ws()

    async def _await_connect(self) -> None:
        """The namespace's answer to our CONNECT, within --timeout (the packets themselves
        arrive through the polling loop or the WebSocket listener)."""
        s = self.session
        assert self.link is not None
        t = time.perf_counter()
        await self.link.wait(min(self.end, t + self.target.timeout),
                             lambda: s.connected_ms is not None or s.over)
        s.no_connect_answer(f"within {time.perf_counter() - t:.1f} s")

    async def _polling(self, client: httpx.AsyncClient) -> None:
        s = self.session
        got = await self._request(client, "GET", "handshake", None, self.target.timeout)
        if got is None:
            return
        status, body = got
        if status != 200:
            s.refused(status, body, "polling handshake")
            return
        first = s.opened(self.ms(), body, "polling")
        if s.handshake is None:
            return
        # packets sent with the open packet (a server may batch them) are read too
        t = self.ms()
        extra: list[str] = []
        for record in codec.decode_payload(body)[1:]:
            extra += s.receive(t, record, "polling")
        await self._post(client, first + extra, "connect")
        poller = asyncio.ensure_future(self._poll_loop(client))
        try:
            if not s.over and self.popts.transport is None:
                await self._upgrade(poller)
            if s.transport == "websocket":
                await self._await_connect()
                await self._hold_ws()
                await self._leave_ws()
                return
            await self._hold_polling(poller)
        finally:
            if not poller.done():
                poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            if self.link is not None and self.session.transport != "websocket":
                await self.link.close("client", "sse-doctor: upgrade abandoned")
        if s.left_ms is None and s.transport == "polling":
            await self._post(client, s.leave(self.ms()), "leave")

    async def _hold_polling(self, poller: asyncio.Future[Any]) -> None:
        s = self.session
        left = self.end - time.perf_counter()
        if left > 0:
            await asyncio.wait([poller], timeout=left)
        if not poller.done():
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        s.no_connect_answer("in the window")

    async def _upgrade(self, poller: asyncio.Future[Any]) -> None:
        s = self.session
        h = s.handshake
        assert h is not None
        if "websocket" not in h.upgrades:
            s.upgrade_failed("the handshake offered no WebSocket upgrade (upgrades: "
                             f"{list(h.upgrades)})", not_offered=True)
            return
        started = self.ms()
        if not await self._open_ws(h.sid):
            ws = self.obs.ws
            text = ws.body_excerpt.decode("utf-8", "replace")
            if ws.status == 400 and ("invalid session" in text.lower()
                                     or "session id unknown" in text.lower()):
                s.refused(ws.status, ws.body_excerpt, "WebSocket upgrade")
            else:
                s.upgrade_failed(f"the WebSocket upgrade did not open: "
                                 f"{ws.unreachable or ws.handshake_error}")
            return
        assert self.link is not None
        self.link.send(s.start_upgrade(started))
        deadline = min(self.end, time.perf_counter() + self.target.timeout)
        await self.link.wait(deadline, self.probe_answered.is_set)
        if not self.probe_answered.is_set():
            if not s.over:
                s.upgrade_failed(f"no 3probe answer to the 2probe within "
                                 f"{self.target.timeout:g} s")
            await self.link.close("client", "sse-doctor: upgrade abandoned")
            return
        # The server ends the pending long poll with a noop once probed; then the upgrade
        # packet moves the session to the WebSocket, as the official client does.
        self.stop_polling = True
        done, _ = await asyncio.wait([poller], timeout=max(0.01, min(
            self.target.timeout, self.end - time.perf_counter())))
        if not done:
            poller.cancel()
        self.link.send(s.upgraded(self.ms()))
