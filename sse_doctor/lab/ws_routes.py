"""WebSocket routes of the lab: one healthy socket and a zoo of misbehaving ones.

Most scenarios are plain Starlette WebSocket endpoints. A few misbehave below what ASGI can
express (never answering pings, dropping TCP without a close frame, writing an invalid frame,
sending no keepalive pings at all), so the lab serves WebSockets with its own uvicorn protocol
class, :class:`LabWebSocketProtocol`: uvicorn's sans-I/O WebSocket protocol plus a per-connection
:class:`LabTransport` handed to the app as the scope extension ``sse_doctor.lab.transport``. A
route that needs it flips a switch on it; every other connection behaves exactly as under plain
uvicorn. Under another server the extension is missing and those routes close with 1011 saying
so.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

EXTENSION = "sse_doctor.lab.transport"
TICK = 0.25  # seconds between progress messages
DEFAULT_HUGE_SIZE = 16 * 1024 * 1024  # the huge message (?size=N overrides), 16x the default cap
MAX_HUGE_SIZE = 1 << 40
_GONE = (WebSocketDisconnect, OSError, RuntimeError)  # the client left while we were sending

WsEndpoint = Callable[[WebSocket], Awaitable[None]]


# --------------------------------------------------------------------------------------------
# Transport-level control (below ASGI)


class LabTransport:
    """Switches a lab route can flip on its own connection, below what ASGI can express."""

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self.answer_pings = True  # False: pings are read and never answered
        self.keepalive = True  # False (before accept): uvicorn sends no keepalive pings

    def write_raw(self, data: bytes) -> None:
        """Write bytes straight to the socket, bypassing WebSocket framing."""
        self._protocol.transport.write(data)

    async def send_streamed_text(self, size: int, chunk: bytes = b"x" * 65536) -> None:
        """One uncompressed text message of ``size`` bytes, written as a frame header and then
        the payload in chunks as the socket drains: a 100 MB message that costs the lab no
        memory and never blocks its event loop. A client over its size limit fails on the
        header; the writing stops when the connection goes away."""
        if size < 126:
            header = bytes([0x81, size])
        elif size < 1 << 16:
            header = bytes([0x81, 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x81, 127]) + size.to_bytes(8, "big")
        protocol = self._protocol
        protocol.transport.write(header)
        remaining = size
        while remaining > 0 and not protocol.transport.is_closing():
            n = min(remaining, len(chunk))
            protocol.transport.write(chunk[:n])
            remaining -= n
            await protocol.writable.wait()  # uvicorn's flow control (paused while full)
            await asyncio.sleep(0)

    def drop(self, *, reset: bool = True) -> None:
        """End the TCP connection without a close frame: RST (``reset``) or FIN."""
        transport = self._protocol.transport
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def _is_pong_frame(data: bytes) -> bool:
    # A server frame is unmasked; 0x8A is FIN + opcode 0xA (pong). Each queued frame is its
    # own bytes object in the sans-I/O protocol's output.
    return data[:1] == b"\x8a"


try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn without the sans-I/O WebSocket protocol
    LabWebSocketProtocol: type | None = None
else:

    class LabWebSocketProtocol(WebSocketsSansIOProtocol):  # type: ignore[no-redef]
        """uvicorn's sans-I/O WebSocket protocol with a :class:`LabTransport` per connection."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.lab = LabTransport(self)

        def handle_connect(self, event: Any) -> None:
            super().handle_connect(event)
            scope = getattr(self, "scope", None)  # absent when the handshake was refused
            if scope is not None:
                # The ASGI task starts on the next loop iteration and sees the extension.
                scope["extensions"][EXTENSION] = self.lab

        def handle_ping(self) -> None:
            if self.lab.answer_pings:
                super().handle_ping()
                return
            output = [data for data in self.conn.data_to_send() if not _is_pong_frame(data)]
            if output:
                self.transport.write(b"".join(output))

        def start_keepalive(self) -> None:
            if self.lab.keepalive:
                super().start_keepalive()

        async def send(self, message: Any) -> None:
            await super().send(message)
            # uvicorn does not count a denial response as a finished handshake and logs
            # "ASGI callable returned without completing handshake" after the 403 route.
            if message["type"] == "websocket.http.response.body" and not message.get(
                    "more_body", False):
                self.handshake_complete = True


def lab_transport(websocket: WebSocket) -> LabTransport | None:
    return websocket.scope.get("extensions", {}).get(EXTENSION)


# --------------------------------------------------------------------------------------------
# Building blocks


async def _serve(websocket: WebSocket, *jobs: Coroutine[Any, Any, None]) -> None:
    """Run a scenario's jobs until one ends, the client leaves or the lab shuts down (then
    close with 1001 going away)."""
    shutdown = getattr(websocket.app.state, "lab_shutdown", None)
    tasks = [asyncio.ensure_future(job) for job in jobs]
    stop = asyncio.ensure_future(shutdown.wait()) if shutdown is not None else None
    try:
        await asyncio.wait(tasks + ([stop] if stop else []), return_when=asyncio.FIRST_COMPLETED)
        if stop is not None and stop.done():
            try:
                await websocket.close(1001, "lab shutting down")
            except _GONE:
                pass
    finally:
        for task in tasks + ([stop] if stop else []):
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, *_GONE):
                pass


async def _drain(websocket: WebSocket) -> None:
    """Read and ignore client messages until the client goes away."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _first_message(websocket: WebSocket) -> str | bytes | None:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    return message.get("text") if message.get("text") is not None else message.get("bytes")


async def _progress(websocket: WebSocket, period: float = TICK) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while True:
        n += 1
        await websocket.send_text(json.dumps({"type": "progress", "n": n}))
        await asyncio.sleep(max(0.0, start + n * period - loop.time()))


async def _needs_lab_transport(websocket: WebSocket) -> LabTransport | None:
    control = lab_transport(websocket)
    if control is None:
        await websocket.accept()
        await websocket.close(1011, "this scenario needs the sse-doctor lab server")
    return control


# --------------------------------------------------------------------------------------------
# Scenarios


async def healthy(websocket: WebSocket) -> None:
    """Echo every message, a progress message every 0.25 s, pings answered (and sent every
    20 s by uvicorn). Accepts the first subprotocol offered."""
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=offered[0] if offered else None)

    async def echo() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = (message.get("bytes") or b"").decode("utf-8", "replace")
            await websocket.send_text(json.dumps({"type": "echo", "data": data}))

    await _serve(websocket, echo(), _progress(websocket))


async def generate_code(websocket: WebSocket) -> None:
    """The incident: the handler parses the first message, a field it needs is missing, and
    the framework turns the exception into close 1011 a few ms later. With the field
    (``{"prompt": ..., "language": ...}``) it works: progress, completed, close 1000."""
    await websocket.accept()

    async def handle() -> None:
        raw = await _first_message(websocket)
        if raw is None:
            return
        try:
            params = json.loads(raw)
            language = params["language"]
        except Exception as exc:  # noqa: BLE001 - what a framework's error handler does
            await websocket.close(1011, f"{type(exc).__name__}: {exc}"[:120])
            return
        for step in ("parsing", "generating"):
            await websocket.send_text(json.dumps({"type": "progress", "step": step}))
            await asyncio.sleep(0.05)
        await websocket.send_text(json.dumps({"type": "completed", "language": language,
                                              "code": "print('hello')"}))
        await websocket.close(1000)

    await _serve(websocket, handle())


async def job_done(websocket: WebSocket) -> None:
    """A job socket that finishes: on the first message, progress every 0.5 s, 'completed',
    then a normal close (1000 "job done") about 1.5 s after that message. Nothing is wrong,
    but a client that expected to stay connected was sent away: ws-server-closed."""
    await websocket.accept()

    async def handle() -> None:
        if await _first_message(websocket) is None:
            return
        for n in (1, 2):
            await websocket.send_text(json.dumps({"type": "progress", "n": n}))
            await asyncio.sleep(0.5)
        await websocket.send_text(json.dumps({"type": "completed"}))
        await asyncio.sleep(0.5)
        await websocket.close(1000, "job done")

    await _serve(websocket, handle())


async def drop_after_first(websocket: WebSocket) -> None:
    """Sends 'ready', then drops TCP (RST, no close frame) on the first client message: a
    worker killed mid-request."""
    control = await _needs_lab_transport(websocket)
    if control is None:
        return
    await websocket.accept()
    await websocket.send_text(json.dumps({"type": "ready"}))

    async def handle() -> None:
        if await _first_message(websocket) is not None:
            control.drop(reset=True)

    await _serve(websocket, handle())


async def reject_origin(websocket: WebSocket) -> None:
    """An origin check that refuses the handshake: 403 with a short text body."""
    origin = websocket.headers.get("origin", "(none)")
    body = f"origin not allowed: {origin}\n"
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(PlainTextResponse(body, status_code=403))
    else:  # pragma: no cover - a server without the denial-response extension
        await websocket.close()  # 403 without a body


async def no_upgrade(websocket: WebSocket) -> None:
    """A plain HTTP page where a WebSocket should be: 200 text/html, no upgrade (a proxy that
    drops the Upgrade header, or a route that serves the app's HTML)."""
    page = "<!doctype html><title>App</title><p>Welcome</p>\n"
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(HTMLResponse(page, status_code=200))
    else:  # pragma: no cover - a server without the denial-response extension
        await websocket.close()


async def mute(websocket: WebSocket) -> None:
    """Accepts, then sends nothing at all: no message, no keepalive ping."""
    control = lab_transport(websocket)
    if control is not None:
        control.keepalive = False
    await websocket.accept()
    await _serve(websocket, _drain(websocket))


async def no_pong(websocket: WebSocket) -> None:
    """Progress messages every 0.25 s, but pings are never answered (a proxy that swallows
    control frames, or a server whose pong path is broken)."""
    control = await _needs_lab_transport(websocket)
    if control is None:
        return
    control.answer_pings = False
    await websocket.accept()
    await _serve(websocket, _drain(websocket), _progress(websocket))


async def huge_message(websocket: WebSocket) -> None:
    """One huge text message right after accept (``?size=N`` bytes, default 16 MiB), streamed
    onto the socket below ASGI (an ASGI send would build and compress it in memory first)."""
    control = await _needs_lab_transport(websocket)
    if control is None:
        return
    try:
        size = int(websocket.query_params.get("size", DEFAULT_HUGE_SIZE))
    except ValueError:
        size = DEFAULT_HUGE_SIZE
    size = max(1, min(size, MAX_HUGE_SIZE))
    await websocket.accept()

    async def send() -> None:
        await control.send_streamed_text(size)
        await _drain(websocket)

    await _serve(websocket, send())


async def invalid_frame(websocket: WebSocket) -> None:
    """A progress message, then a frame with the reserved opcode 0x3 (a broken serializer or
    a proxy corrupting the stream)."""
    control = await _needs_lab_transport(websocket)
    if control is None:
        return
    await websocket.accept()
    await websocket.send_text(json.dumps({"type": "progress", "n": 1}))
    control.write_raw(b"\x83\x00")
    await _serve(websocket, _drain(websocket))


WS_HANDLERS: dict[str, WsEndpoint] = {
    "healthy-echo": healthy,
    "generate-code": generate_code,
    "job-done": job_done,
    "drop-after-first": drop_after_first,
    "reject-origin": reject_origin,
    "no-upgrade": no_upgrade,
    "mute": mute,
    "no-pong": no_pong,
    "huge-message": huge_message,
    "invalid-frame": invalid_frame,
}

# The GraphQL profile's WebSocket routes (lab/protocol_routes.py).
from .protocol_routes import GRAPHQL_WS_HANDLERS  # noqa: E402 - appended to the table above

WS_HANDLERS.update(GRAPHQL_WS_HANDLERS)
