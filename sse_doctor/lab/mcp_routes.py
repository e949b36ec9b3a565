"""MCP servers for the lab: a hand-written Streamable HTTP server (spec 2025-06-18, and
2025-11-25 SSE polling) with switches for what the official SDK cannot be made to do wrong,
an old HTTP+SSE one, and a modern-only one (revision 2026-07-28: server/discover, stateless
requests, subscriptions/listen) with its broken twins.

Written by hand (not with the `mcp` SDK, a test dependency only) so each route can break
exactly one rule: forget the session, close a POST stream before the response, send a
message that is not JSON-RPC, replay a stream from the start, keep a deleted session.
The tests run the real SDK server as well.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .sse_routes import EventWriter, LabStream, sse_headers, timeline

PROTOCOL = "2025-06-18"
GET_EVENT_EVERY = 0.4  # a server notification on the GET stream
HEARTBEAT_EVERY = 0.5  # a comment on every stream held open
MAX_SESSIONS = 1000
KEPT_EVENTS = 64  # per session, for resuming the GET stream
MAX_STREAM_S = 60.0  # no lab stream outlives this
TOOLS = [{"name": "add", "description": "Add two numbers",
          "inputSchema": {"type": "object", "properties": {"a": {"type": "integer"},
                                                           "b": {"type": "integer"}}}}]

SLOW_TOOL = {"name": "slow", "description": "Work for a while, with progress",
             "inputSchema": {"type": "object", "properties": {}}}
# name -> what the route does wrong (the scenario table says what each models)
SESSION_VARIANTS = ("healthy", "session-lost", "response-missing", "invalid-message",
                    "resume-broken", "not-terminated", "host-refused", "silent-stream", "legacy",
                    "polling", "polling-lost")
MODERN = "2026-07-28"
# name -> what the modern-only route does wrong
MODERN_VARIANTS = ("modern", "modern-silent-listen", "modern-unsupported",
                   "modern-headers-ignored", "modern-call-runs-on")
SLOW_CALL_S = 6.0  # the `slow` tool's work: a progress notification every SLOW_TICK_S
SLOW_TICK_S = 0.2
VARIANTS = SESSION_VARIANTS + MODERN_VARIANTS  # every MCP route, /mcp/<variant>
FUTURE = "2027-07-28"  # the one revision modern-unsupported speaks (none the doctor knows)
POLL_RETRY_MS = 50  # the polling routes' `retry:`


@dataclass
class LabMcpSession:
    events: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=KEPT_EVENTS))
    next_id: int = 1
    outbox: asyncio.Queue[str] | None = None  # the old transport: responses for its stream
    priming: set[str] = field(default_factory=set)  # SSE polling: the priming events' ids


class McpLab:
    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.sessions: OrderedDict[str, LabMcpSession] = OrderedDict()

    def _new_session(self) -> str:
        sid = secrets.token_hex(16)
        self.sessions[sid] = LabMcpSession()
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return sid

    # --- Streamable HTTP --------------------------------------------------------------------
    async def endpoint(self, request: Request) -> Response:
        if self.variant == "host-refused":
            # The SDK's DNS-rebinding protection behind a proxy that passes its own Host.
            return PlainTextResponse("Invalid Host header", status_code=421)
        if self.variant == "legacy":
            if request.method == "GET":
                return self._legacy_stream()
            return PlainTextResponse("Method Not Allowed", status_code=405)
        sid = request.headers.get("mcp-session-id")
        if request.method == "POST":
            try:
                msg = json.loads(await request.body())
            except ValueError:
                return _error(400, "Parse error", -32700)
            if not isinstance(msg, dict):
                return _error(400, "Batches are not supported here")
            if msg.get("method") == "initialize":
                return self._initialize(msg)
        session = self._session(sid)
        if isinstance(session, Response):
            return session
        if request.method == "DELETE":
            if self.variant != "not-terminated":
                self.sessions.pop(sid or "", None)
            return Response(status_code=200)
        if request.method == "GET":
            if "text/event-stream" not in request.headers.get("accept", ""):
                return _error(406, "Not Acceptable: Client must accept text/event-stream")
            return self._get_stream(session, request.headers.get("last-event-id"))
        if "id" not in msg:
            return Response(status_code=202)  # a notification or a response
        return self._answer(msg, session)

    def _session(self, sid: str | None) -> LabMcpSession | Response:
        if not sid:
            return _error(400, "Bad Request: Missing session ID")
        if self.variant == "session-lost" or sid not in self.sessions:
            return _error(404, "Session not found")  # a replica that never saw it
        return self.sessions[sid]

    def _initialize(self, msg: dict[str, Any]) -> Response:
        sid = self._new_session()
        version = (msg.get("params") or {}).get("protocolVersion") or PROTOCOL
        result = {"protocolVersion": version if version <= PROTOCOL else PROTOCOL,
                  "capabilities": {"tools": {"listChanged": False}},
                  "serverInfo": {"name": f"sse-doctor-lab-{self.variant}", "version": "1"}}
        return _sse_answer([_response(msg["id"], result)], {"Mcp-Session-Id": sid})

    def _answer(self, msg: dict[str, Any], session: LabMcpSession) -> Response:
        rpc_id, method = msg["id"], msg.get("method")
        note = {"jsonrpc": "2.0", "method": "notifications/message",
                "params": {"level": "info", "data": f"working on {method}"}}
        if method == "tools/list":
            result: dict[str, Any] = {"tools": TOOLS}
        elif method == "ping":
            result = {}
        else:
            return _sse_answer([{"jsonrpc": "2.0", "id": rpc_id,
                                 "error": {"code": -32601, "message": "Method not found"}}])
        if self.variant == "response-missing":
            return _sse_answer([note])  # the handler died: the stream ends without it
        if self.variant == "invalid-message" and method == "tools/list":
            return _sse_answer(["debug: listing tools", _response(rpc_id, result)])
        if self.variant in ("polling", "polling-lost") and method == "tools/list":
            return self._polled(session, _response(rpc_id, result))
        return _sse_answer([note, _response(rpc_id, result)])

    def _polled(self, session: LabMcpSession, answer: dict[str, Any]) -> Response:
        """2025-11-25 SSE polling: a priming event (an id, empty data, `retry`), then the
        stream closes; the response waits in the session for the resume (polling-lost drops
        it: the resumed stream carries a keepalive and ends)."""
        i, session.next_id = session.next_id, session.next_id + 1
        session.priming.add(str(i))
        if self.variant == "polling":
            j, session.next_id = session.next_id, session.next_id + 1
            session.events.append((j, json.dumps(answer)))

        async def body() -> AsyncIterator[bytes]:
            yield f"id: {i}\nretry: {POLL_RETRY_MS}\ndata:\n\n".encode()

        return LabStream(body(), headers=sse_headers())

    def _get_stream(self, session: LabMcpSession, last_event_id: str | None) -> Response:
        replay: list[tuple[int, str]] = []
        if last_event_id is not None:
            if self.variant == "resume-broken":
                replay = list(session.events)  # from the start: every event again
            else:
                try:
                    after = int(last_event_id)
                except ValueError:
                    after = -1
                replay = [(i, d) for i, d in session.events if i > after]
        silent = self.variant == "silent-stream"
        polled = last_event_id is not None and last_event_id in session.priming
        if self.variant == "polling-lost" and polled:
            return LabStream(_ended_after([EventWriter.comment("ping")]), headers=sse_headers())
        if self.variant == "polling" and polled:
            return LabStream(_ended_after([_event(d, i) for i, d in replay]),
                             headers=sse_headers())
        return LabStream(self._get_body(session, replay, silent), headers=sse_headers())

    async def _get_body(self, session: LabMcpSession, replay: list[tuple[int, str]],
                        silent: bool) -> AsyncIterator[bytes]:
        for i, data in replay:
            yield _event(data, i)
        if silent:
            await asyncio.sleep(MAX_STREAM_S)
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + MAX_STREAM_S
        async for which in timeline((GET_EVENT_EVERY, GET_EVENT_EVERY),
                                    (HEARTBEAT_EVERY / 2, HEARTBEAT_EVERY)):
            if loop.time() > end:
                return
            if which == 1:
                yield EventWriter.comment("ping")
                continue
            i, session.next_id = session.next_id, session.next_id + 1
            data = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                               "params": {"level": "info", "data": f"tick {i}"}})
            session.events.append((i, data))
            yield _event(data, i)

    # --- the 2024-11-05 HTTP+SSE transport --------------------------------------------------
    def _legacy_stream(self) -> Response:
        sid = self._new_session()
        session = self.sessions[sid]
        session.outbox = asyncio.Queue(maxsize=64)
        return LabStream(self._legacy_body(sid, session.outbox), headers=sse_headers())

    async def _legacy_body(self, sid: str, outbox: asyncio.Queue[str]) -> AsyncIterator[bytes]:
        yield f"event: endpoint\ndata: /mcp/legacy/messages?session_id={sid}\n\n".encode()
        loop = asyncio.get_running_loop()
        end = loop.time() + MAX_STREAM_S
        while loop.time() < end:
            try:
                data = await asyncio.wait_for(outbox.get(), HEARTBEAT_EVERY)
            except asyncio.TimeoutError:
                yield EventWriter.comment("ping")
                continue
            yield f"event: message\ndata: {data}\n\n".encode()

    async def legacy_messages(self, request: Request) -> Response:
        session = self.sessions.get(request.query_params.get("session_id", ""))
        if session is None or session.outbox is None:
            return PlainTextResponse("Could not find session", status_code=404)
        try:
            msg = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("Could not parse message", status_code=400)
        if isinstance(msg, dict) and "id" in msg and "method" in msg:
            if msg["method"] == "initialize":
                result: dict[str, Any] = {
                    "protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
                    "serverInfo": {"name": "sse-doctor-lab-legacy", "version": "1"}}
            elif msg["method"] == "tools/list":
                result = {"tools": TOOLS}
            else:
                result = {}
            try:
                session.outbox.put_nowait(json.dumps(_response(msg["id"], result)))
            except asyncio.QueueFull:
                return PlainTextResponse("Busy", status_code=503)
        return PlainTextResponse("Accepted", status_code=202)


class ModernLab:
    """A server that speaks only revision 2026-07-28, as the spec describes one: POST only
    (GET and DELETE 405), no session, every request validated against its headers."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.speaks = FUTURE if variant == "modern-unsupported" else MODERN
        self.running = 0  # `slow` calls at work (the cancellation experiment watches it)
        self.tasks: set[asyncio.Task] = set()

    async def state(self, request: Request) -> Response:
        return JSONResponse({"running": self.running})

    async def endpoint(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        try:
            msg = json.loads(await request.body())
        except ValueError:
            return _error(400, "Parse error", -32700, None)
        if not isinstance(msg, dict) or "method" not in msg:
            return _error(400, "Body must be a single JSON-RPC request or notification", -32600,
                          None)
        if "id" not in msg:
            return Response(status_code=202)
        rpc_id, method = msg["id"], msg["method"]
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        version = meta.get("io.modelcontextprotocol/protocolVersion")
        if version is None or "io.modelcontextprotocol/clientCapabilities" not in meta:
            # An initialize from an older client: say which revisions are spoken (the spec's
            # SHOULD for modern-only servers).
            return _error(400, f"params._meta must carry the protocol version; this server "
                          f"speaks {self.speaks} only", -32602, rpc_id)
        if self.variant != "modern-headers-ignored" and (
                request.headers.get("mcp-protocol-version") != version
                or request.headers.get("mcp-method") != method):
            return _error(400, "Header mismatch: MCP-Protocol-Version or Mcp-Method does not "
                          "match the body", -32020, rpc_id)
        if version != self.speaks:
            return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "error": {
                "code": -32022, "message": "Unsupported protocol version",
                "data": {"supported": [self.speaks], "requested": version}}}, status_code=400)
        if method == "subscriptions/listen":
            return self._listen(rpc_id, params)
        if method == "tools/call" and params.get("name") == "slow":
            return self._slow(rpc_id)
        result = self._result(method, params)
        if result is None:
            return _error(404, "Method not found", -32601, rpc_id)
        result.setdefault("resultType", "complete")
        result["_meta"] = {"io.modelcontextprotocol/serverInfo": {
            "name": f"sse-doctor-lab-{self.variant}", "version": "1"}}
        return JSONResponse(_response(rpc_id, result))

    def _result(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        if method == "server/discover":
            return {"supportedVersions": [self.speaks],
                    "capabilities": {"tools": {"listChanged": True}}}
        if method == "tools/list":
            return {"tools": TOOLS + [SLOW_TOOL]}
        if method == "tools/call":
            args = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
            if params.get("name") != "add":
                return {"content": [{"type": "text", "text": "unknown tool"}], "isError": True}
            total = int(args.get("a", 0)) + int(args.get("b", 0))
            return {"content": [{"type": "text", "text": str(total)}], "isError": False}
        return None

    def _slow(self, rpc_id: Any) -> Response:
        """A long call answered on an SSE stream with progress. Closing the stream cancels it
        (the body's task is cancelled); modern-call-runs-on moved the work to a detached task
        that goes on for nobody."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def work() -> None:
            self.running += 1
            try:
                loop = asyncio.get_running_loop()
                end = loop.time() + SLOW_CALL_S
                n = 0
                while loop.time() < end:
                    await asyncio.sleep(SLOW_TICK_S)
                    n += 1
                    queue.put_nowait(_event(json.dumps({
                        "jsonrpc": "2.0", "method": "notifications/progress",
                        "params": {"progressToken": str(rpc_id), "progress": n}})))
                queue.put_nowait(_event(json.dumps(_response(rpc_id, {
                    "content": [{"type": "text", "text": "slow done"}], "isError": False,
                    "resultType": "complete"}))))
            finally:
                self.running -= 1
                queue.put_nowait(None)

        async def body() -> AsyncIterator[bytes]:
            if self.variant == "modern-call-runs-on":
                task = asyncio.get_running_loop().create_task(work())
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            else:
                task = asyncio.get_running_loop().create_task(work())
            try:
                while (chunk := await queue.get()) is not None:
                    yield chunk
            finally:
                if self.variant != "modern-call-runs-on":
                    task.cancel()  # the stream closed: the request is cancelled

        return LabStream(body(), headers=sse_headers())

    def _listen(self, rpc_id: Any, params: dict[str, Any]) -> Response:
        wanted = params.get("notifications") if isinstance(params.get("notifications"), dict) \
            else {}
        silent = self.variant == "modern-silent-listen"

        async def body() -> AsyncIterator[bytes]:
            if silent:  # the stream opens, then nothing: no acknowledgement, no keepalive
                await asyncio.sleep(MAX_STREAM_S)
                return
            ack = {"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                   "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": rpc_id},
                              "notifications": {"toolsListChanged": True}
                              if wanted.get("toolsListChanged") else {}}}
            yield _event(json.dumps(ack))
            loop = asyncio.get_running_loop()
            end = loop.time() + MAX_STREAM_S
            while loop.time() < end:
                await asyncio.sleep(HEARTBEAT_EVERY)
                yield EventWriter.comment("ping")

        return LabStream(body(), headers=sse_headers())


async def _ended_after(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def _response(rpc_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rpc_id, "result": result}


def _event(data: str, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: message\ndata: {data}\n\n".encode()


def _sse_answer(messages: list[Any], headers: dict[str, str] | None = None) -> Response:
    """A POST answered as an SSE stream that ends after its messages."""

    async def body() -> AsyncIterator[bytes]:
        for m in messages:
            yield _event(m if isinstance(m, str) else json.dumps(m))

    return LabStream(body(), headers=sse_headers(**(headers or {})))


def _error(status: int, message: str, code: int = -32600, rpc_id: Any = "server-error") \
        -> Response:
    return JSONResponse({"jsonrpc": "2.0", "id": rpc_id,
                         "error": {"code": code, "message": message}}, status_code=status)


def mcp_routes() -> list[Route]:
    routes = []
    for variant in SESSION_VARIANTS:
        lab = McpLab(variant)
        routes.append(Route(f"/mcp/{variant}", lab.endpoint, methods=["GET", "POST", "DELETE"],
                            name=f"mcp-{variant}"))
        if variant == "legacy":
            routes.append(Route("/mcp/legacy/messages", lab.legacy_messages, methods=["POST"]))
    for variant in MODERN_VARIANTS:
        modern = ModernLab(variant)
        routes.append(Route(f"/mcp/{variant}", modern.endpoint,
                            methods=["GET", "POST", "DELETE"], name=f"mcp-{variant}"))
        routes.append(Route(f"/mcp/{variant}/state", modern.state, methods=["GET"]))
    return routes
