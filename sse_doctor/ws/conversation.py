"""One WebSocket driven by a sans-I/O protocol core (the GraphQL and Socket.IO profiles): the
same recording connection as `probe ws://` (every frame stamped into a WsObservation), plus
a way to hear each incoming message as it arrives and to queue messages to send.

The core decides what to send; this shell only moves bytes and keeps every wait bounded:
opening by --timeout, each wait by the deadline its caller gives, the close by
CLOSE_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from sse_doctor.target import Target
from sse_doctor.ws.client import (
    CLOSE_TIMEOUT_S,
    WsOptions,
    check_target,
    end_session,
    open_connection,
    record_failure,
    wait_closed,
)
from sse_doctor.ws.observation import WsObservation
from sse_doctor.ws.recorder import WsRecorder

# on_message(t, is_text, payload): t is a perf_counter() time
Listener = Callable[[float, bool, bytes], None]


class WsLink:
    def __init__(self, target: Target, opts: WsOptions, listener: Listener) -> None:
        check_target(target)
        self.target = target
        self.opts = opts
        self.obs = WsObservation(url=target.url, started_at=datetime.now(timezone.utc),
                                 window_s=opts.duration,
                                 offered_subprotocols=list(opts.subprotocols),
                                 origin=opts.origin, max_message_size=opts.max_message_size)
        self.rec = WsRecorder(self.obs, keep=opts.keep, expect=opts.expect_messages)
        self.rec.on_message = self._heard
        self.listener = listener
        self.ws: Any = None
        self.close_timeout = min(CLOSE_TIMEOUT_S, target.timeout)
        self._out: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self.heard = asyncio.Event()  # set on every message (a waiter clears it)
        self._closed = False

    def _heard(self, t_ms: float, is_text: bool, data: bytes) -> None:
        assert self.rec.t0 is not None
        self.listener(self.rec.t0 + t_ms / 1000, is_text, data)
        self.heard.set()

    @property
    def t0(self) -> float | None:
        """perf_counter() when the opening handshake was sent."""
        return self.rec.t0

    async def open(self) -> bool:
        """Connect and handshake; False (recorded in obs) when it did not open."""
        try:
            self.ws = await open_connection(self.target, self.opts, self.rec, self.close_timeout)
        except Exception as exc:  # noqa: BLE001 - classified there; anything else re-raised
            record_failure(self.obs, self.rec, exc, self.target)
            self.obs.end_ms = self.rec.ms(time.perf_counter())
            return False
        self.rec.on_open(self.ws)
        self._sender = asyncio.ensure_future(self._send_loop())
        return True

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self.ws.protocol.state is State.OPEN

    def send(self, message: str | bytes) -> None:
        self._out.put_nowait(message)

    async def _send_loop(self) -> None:
        try:
            while True:
                message = await self._out.get()
                try:
                    if self.is_open:
                        is_text = isinstance(message, str)
                        data = message.encode() if isinstance(message, str) else message
                        self.rec.out_message(time.perf_counter(), data, is_text)
                        await self.ws.send(message)
                finally:
                    self._out.task_done()
        except (ConnectionClosed, OSError):
            while not self._out.empty():  # nothing more can be sent: release drain()
                self._out.get_nowait()
                self._out.task_done()

    async def drain(self, timeout: float) -> None:
        """Wait (at most timeout) until every queued message was handed to the socket."""
        if self._sender is None or self._sender.done():
            return
        try:
            await asyncio.wait_for(self._out.join(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass

    async def wait(self, until: float, stop: Callable[[], bool]) -> None:
        """Until perf_counter() reaches until, the connection closes, or stop() is true
        (checked after every message)."""
        while not stop() and not self.rec.closing.is_set():
            left = until - time.perf_counter()
            if left <= 0:
                return
            self.heard.clear()
            waits = [asyncio.ensure_future(self.heard.wait()),
                     asyncio.ensure_future(self.rec.closing.wait())]
            try:
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)

    async def close(self, by: str, reason: str, code: int = 1000) -> WsObservation:
        """Send what is queued, close our side (when still open) and finish the record."""
        if self.ws is None or self._closed:
            return self.obs
        self._closed = True
        try:
            await self.drain(self.close_timeout)
            if self._sender is not None:
                self._sender.cancel()
                await asyncio.gather(self._sender, return_exceptions=True)
            await end_session(self.ws, self.rec, self.close_timeout, by, reason, code)
        finally:
            if not self.ws.connection_lost_waiter.done():
                self.ws.abort_transport()
                await wait_closed(self.ws, 0.5)
        self.rec.finish(time.perf_counter())
        return self.obs
