"""Lab routes for the GraphQL and Socket.IO profiles: the failures real servers cannot be
made to show on demand (a server that never pings, refuses Engine.IO v4, loses sessions,
never upgrades, sends garbage; a GraphQL server that never acks, closes with 4500, picks no
subprotocol, ends a query or an SSE stream without complete, never keeps a link alive).

A hand-written, minimal Engine.IO v4 / Socket.IO v5 server and graphql-transport-ws /
graphql-ws server: just enough of each protocol for its scenario (the tests run the real
python-socketio and strawberry servers for everything they can show). Every loop is bounded by
the client going away and by a cap on its life (LIFE_S).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

LIFE_S = 60.0  # no lab conversation outlives this
_GONE = (WebSocketDisconnect, OSError, RuntimeError)
_sids = itertools.count(1)


def _sid() -> str:
    return f"lab{next(_sids):08d}"


def _open_packet(sid: str, upgrades: list[str], interval: int = 500, timeout: int = 1000) -> str:
    return "0" + json.dumps({"sid": sid, "upgrades": upgrades, "pingInterval": interval,
                             "pingTimeout": timeout, "maxPayload": 1000000})


# --- Socket.IO over long-polling ----------
async def sio_handshake_failed(request: Request) -> Response:
    """node's engine.io answer to a client of another major version (code 5)."""
    return JSONResponse({"code": 5, "message": "Unsupported protocol version"}, status_code=400)


async def sio_session_unknown(request: Request) -> Response:
    """Two workers without sticky sessions: the handshake opens a session on one, every later
    request reaches the other."""
    if "sid" not in request.query_params:
        return PlainTextResponse(_open_packet(_sid(), ["websocket"]))
    return JSONResponse({"code": 1, "message": "Session ID unknown"}, status_code=400)


class _PollingSessions:
    """Sessions of the no-upgrade server: packets waiting for the next GET (bounded)."""

    MAX = 1000

    def __init__(self) -> None:
        self.pending: OrderedDict[str, list[str]] = OrderedDict()

    def open(self) -> str:
        sid = _sid()
        self.pending[sid] = []
        while len(self.pending) > self.MAX:
            self.pending.popitem(last=False)
        return sid


_POLLING = _PollingSessions()


async def sio_no_upgrade(request: Request) -> Response:
    """A server (or a proxy in front of it) that offers no WebSocket upgrade: long-polling
    only, pinging every 0.5 s."""
    sid = request.query_params.get("sid")
    if sid is None:
        return PlainTextResponse(_open_packet(_POLLING.open(), []))
    queue = _POLLING.pending.get(sid)
    if queue is None:
        return JSONResponse({"code": 1, "message": "Session ID unknown"}, status_code=400)
    if request.method == "POST":
        body = (await request.body()).decode("utf-8", "replace")
        for packet in body.split("\x1e"):
            if packet == "40":
                queue += ['40{"sid":"ns-' + sid + '"}', '42["welcome",{"transport":"polling"}]']
            elif packet in ("1", "41"):
                _POLLING.pending.pop(sid, None)
        return PlainTextResponse("ok")
    if not queue:
        await asyncio.sleep(0.5)
        queue.append("2")
    out, queue[:] = "\x1e".join(queue), []
    return PlainTextResponse(out)


# --- Socket.IO over WebSocket (probed with --transport websocket) ----------
async def _sio_ws(websocket: WebSocket, *, ping: bool = True, interval: int = 500,
                  timeout: int = 1000, on_connect: Callable[[WebSocket, str], Awaitable[bool]]
                  | None = None) -> None:
    """A Socket.IO server on one WebSocket: open packet, the namespace's answer, a tick event
    every 0.25 s and (unless told not to) a ping every interval. on_connect may take over after
    the CONNECT: it returns False to stop the ticks."""
    await websocket.accept()
    sid = _sid()
    loop = asyncio.get_running_loop()
    end = loop.time() + LIFE_S
    try:
        await websocket.send_text(_open_packet(sid, [], interval, timeout))
        first = await asyncio.wait_for(websocket.receive_text(), 10)
        if not first.startswith("40"):
            await websocket.close(1002)
            return
        ns = first[2:].partition(",")[0] + "," if first.startswith("40/") else ""
        ticking = True
        if on_connect is not None:
            ticking = await on_connect(websocket, ns)
        else:
            await websocket.send_text(f'40{ns}{{"sid":"ns-{sid}"}}')
        n = 0
        next_ping = loop.time() + interval / 1000
        while loop.time() < end:
            try:
                msg = await asyncio.wait_for(websocket.receive_text(), 0.25)
                if msg in ("1", "41"):
                    await websocket.close(1000)
                    return
            except (asyncio.TimeoutError, TimeoutError):
                pass
            if ticking:
                n += 1
                await websocket.send_text(f'42{ns}["tick",{{"n":{n}}}]')
            if ping and loop.time() >= next_ping:
                next_ping += interval / 1000
                await websocket.send_text("2")
    except (*_GONE, asyncio.TimeoutError, TimeoutError, KeyError):
        return


async def sio_healthy(websocket: WebSocket) -> None:
    await _sio_ws(websocket)


async def sio_ping_timeout(websocket: WebSocket) -> None:
    """Pings announced every 300 ms, never sent: a blocked event loop's session."""
    await _sio_ws(websocket, ping=False, interval=300, timeout=300)


async def _refuse(websocket: WebSocket, ns: str) -> bool:
    await websocket.send_text(f'44{ns}{{"message":"Not authorized: no token in auth"}}')
    return False


async def sio_namespace_rejected(websocket: WebSocket) -> None:
    await _sio_ws(websocket, on_connect=_refuse)


async def _kick(websocket: WebSocket, ns: str) -> bool:
    await websocket.send_text(f'40{ns}{{"sid":"ns-kicked"}}')
    await asyncio.sleep(0.5)
    await websocket.send_text(f"41{ns}")  # the server called disconnect()
    await websocket.close(1000)
    raise WebSocketDisconnect(1000)


async def sio_disconnect(websocket: WebSocket) -> None:
    await _sio_ws(websocket, on_connect=_kick)


async def _garbage(websocket: WebSocket, ns: str) -> bool:
    await websocket.send_text(f'40{ns}{{"sid":"ns-garbage"}}')
    await websocket.send_bytes(b"\x00\xff\x13\x37 not a socket.io attachment")
    await websocket.send_text("9{unknown packet type}")
    return True


async def sio_garbage(websocket: WebSocket) -> None:
    await _sio_ws(websocket, on_connect=_garbage)


# --- GraphQL over WebSocket ----------
async def _gql(websocket: WebSocket, behave: str) -> None:
    offered = websocket.scope.get("subprotocols") or []
    if behave == "no-subprotocol":
        await websocket.accept()
        await websocket.close(4406, "Subprotocol not acceptable")
        return
    picked = next((p for p in offered if p in ("graphql-transport-ws", "graphql-ws")), None)
    await websocket.accept(subprotocol=picked)
    legacy = picked == "graphql-ws"
    loop = asyncio.get_running_loop()
    end = loop.time() + LIFE_S
    try:
        init = json.loads(await asyncio.wait_for(websocket.receive_text(), 10))
        if init.get("type") != "connection_init":
            await websocket.close(4400, "Expected connection_init")
            return
        if behave == "ack-timeout":
            while loop.time() < end:
                await websocket.receive_text()  # reads on, never acks
            return
        await websocket.send_json({"type": "connection_ack"})
        sub = json.loads(await asyncio.wait_for(websocket.receive_text(), 10))
        op = sub.get("id", "1")
        result = "data" if legacy else "next"
        if behave == "close-code":
            await websocket.close(4500, "Internal server error")
            return
        if behave == "garbage":
            await websocket.send_bytes(b"\x00\xff\x13\x37 not JSON")
            await websocket.send_text('{"id": "1", "type": "nxet"}')
        if behave == "error":
            await websocket.send_json({"id": op, "type": "error", "payload": [
                {"message": "Cannot query field 'tick' on type 'Subscription'."}]})
        elif behave == "no-complete":
            await websocket.send_json({"id": op, "type": result,
                                       "payload": {"data": {"hello": "world"}}})
            await websocket.close(1000)
            return
        n = 0
        next_ping = loop.time() + 1.0
        while loop.time() < end:
            try:
                msg = json.loads(await asyncio.wait_for(websocket.receive_text(), 0.25))
                if msg.get("type") in ("complete", "stop", "connection_terminate"):
                    await websocket.close(1000)
                    return
                if msg.get("type") == "ping":
                    await websocket.send_json({"type": "pong"})
            except (asyncio.TimeoutError, TimeoutError):
                pass
            if behave == "healthy":
                n += 1
                await websocket.send_json({"id": op, "type": result,
                                           "payload": {"data": {"tick": n}}})
                if loop.time() >= next_ping:
                    next_ping += 1.0
                    await websocket.send_json({"type": "ka"} if legacy else {"type": "ping"})
    except (*_GONE, asyncio.TimeoutError, TimeoutError, ValueError):
        return


def _gql_route(behave: str) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        await _gql(websocket, behave)

    endpoint.__name__ = f"graphql_{behave.replace('-', '_')}"
    return endpoint


# --- GraphQL over SSE (graphql-sse) ----------
async def graphql_sse_no_complete(request: Request) -> Response:
    """Two next events, then the body ends without the complete event."""
    await request.body()

    async def body() -> Any:
        for n in (1, 2):
            yield f'event: next\ndata: {{"data":{{"tick":{n}}}}}\n\n'.encode()
            await asyncio.sleep(0.1)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


# name -> handler; the scenario table (lab/scenarios.py) gives their paths and diagnoses
SIO_HTTP_HANDLERS = {
    "socketio-handshake-failed": sio_handshake_failed,
    "socketio-session-unknown": sio_session_unknown,
    "socketio-no-upgrade": sio_no_upgrade,
}
SIO_WS_HANDLERS = {
    "socketio-healthy": sio_healthy,
    "socketio-ping-timeout": sio_ping_timeout,
    "socketio-namespace-rejected": sio_namespace_rejected,
    "socketio-disconnect": sio_disconnect,
    "socketio-garbage": sio_garbage,
}
GRAPHQL_WS_HANDLERS = {f"graphql-{b}": _gql_route(b) for b in (
    "healthy", "ack-timeout", "close-code", "no-subprotocol", "error", "no-complete",
    "no-keepalive", "garbage")}
GRAPHQL_SSE_HANDLERS = {"graphql-sse-no-complete": graphql_sse_no_complete}


async def _not_here(request: Request) -> Response:
    return PlainTextResponse("this lab Socket.IO server speaks WebSocket only "
                             "(probe it with --transport websocket)", status_code=400)


def http_handlers() -> dict[str, tuple[Any, tuple[str, ...]]]:
    """The SSE-side (HTTP) routes, as lab/sse_routes.py's HANDLERS holds them."""
    out: dict[str, tuple[Any, tuple[str, ...]]] = {
        name: (h, ("GET", "POST")) for name, h in SIO_HTTP_HANDLERS.items()}
    out.update({name: (_not_here, ("GET", "POST")) for name in SIO_WS_HANDLERS})
    out.update({name: (h, ("POST",)) for name, h in GRAPHQL_SSE_HANDLERS.items()})
    return out
