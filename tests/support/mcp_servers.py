"""The official `mcp` SDK 2.x servers (MCPServer) served by uvicorn on 127.0.0.1 for the
tests: the dual-era default (2026-07-28 beside the 2025 session), modern-only, stateless,
JSON answers, with an event store (resumable, SSE polling), DNS-rebinding protection on, the
old HTTP+SSE transport, and two replicas behind a round-robin without shared sessions."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the mcp SDK is a test dependency (pip install .[test])")

import uvicorn  # noqa: E402
from mcp.server import MCPServer  # noqa: E402
from mcp.server.mcpserver import Context  # noqa: E402
from mcp.server.streamable_http import EventStore  # noqa: E402
from mcp.server.transport_security import TransportSecuritySettings  # noqa: E402
from mcp_types import (  # noqa: E402
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
)

OPEN = TransportSecuritySettings(enable_dns_rebinding_protection=False)
GUARDED = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                    allowed_hosts=["127.0.0.1:*", "localhost:*"],
                                    allowed_origins=["http://127.0.0.1:*"])


class MemoryEventStore(EventStore):
    """Resumability for the tests: every event kept, replayed after an id per stream."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []  # (event id, stream id, message)
        self.ids = itertools.count(1)

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(next(self.ids))
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: Any) -> str | None:
        from mcp.server.streamable_http import EventMessage

        found = next((s for i, s, _ in self.events if i == last_event_id), None)
        if found is None:
            return None
        after = False
        for event_id, stream_id, message in self.events:
            if after and stream_id == found and message is not None:
                await send_callback(EventMessage(message, event_id))
            after = after or event_id == last_event_id
        return found


def make_server(name: str = "sdk-demo") -> MCPServer:
    server = MCPServer(name, version="1.0")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Say it back."""
        return text

    @server.tool()
    async def slow_poll(ctx: Context) -> str:
        """Answer after closing its own stream (2025-11-25 SSE polling, with an event store)."""
        await ctx.close_sse_stream()
        await anyio.sleep(0.2)
        return "done"

    @server.tool()
    def confirm(ctx: Context) -> str | InputRequiredResult:
        """Ask the user first (2026-07-28: input_required, then a retry with the answers)."""
        if ctx.input_responses is None:
            ask = ElicitRequest(params=ElicitRequestFormParams(
                message="Go ahead?", requested_schema={"type": "object", "properties": {
                    "ok": {"type": "boolean"}}}))
            return InputRequiredResult(input_requests={"go": ask}, request_state="round-1")
        return "confirmed"

    running = {"calls": 0}  # `work` calls in progress, served at /state for the watchers

    @server.tool()
    async def work(ctx: Context, seconds: float = 5.0) -> str:
        """Work for a while, with progress (the cancellation experiment drops its stream)."""
        running["calls"] += 1
        try:
            for step in range(int(seconds / 0.2)):
                await ctx.report_progress(step, seconds / 0.2)
                await anyio.sleep(0.2)
        finally:
            running["calls"] -= 1
        return "worked"

    @server.custom_route("/state", methods=["GET"])
    async def state(request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"running": running["calls"]})

    @server.resource("config://app")
    def config() -> str:
        return "answer=42"

    @server.prompt()
    def greet(name: str) -> str:
        return f"Say hello to {name}."

    return server


class Served:
    """An ASGI app under uvicorn in a thread, on a port bound up front."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self._sock]}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:  # uvicorn has no started event to wait on
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self._sock.close()


class RoundRobin:
    """Two replicas of one MCP server behind a load balancer without sticky sessions: each
    request goes to the next replica; sessions live in the replica that made them."""

    def __init__(self, servers: list[MCPServer]) -> None:
        self.servers = servers
        self.apps = [s.streamable_http_app(transport_security=OPEN) for s in servers]
        self.turn = itertools.count()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()  # startup
            async with contextlib.AsyncExitStack() as stack:
                for s in self.servers:
                    await stack.enter_async_context(s.session_manager.run())
                await send({"type": "lifespan.startup.complete"})
                await receive()  # shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.apps[next(self.turn) % len(self.apps)](scope, receive, send)


class ModernOnly:
    """The SDK's server with its 2025 half cut off, as a server that speaks only 2026-07-28
    answers (the spec's advice for older clients): GET and DELETE 405, every POST taken as
    a modern request (an initialize without _meta is refused with 400)."""

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self.app = server.streamable_http_app(transport_security=OPEN)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from mcp.server._streamable_http_modern import handle_modern_request

            manager = self.server.session_manager
            await handle_modern_request(manager.app, manager.security_settings,
                                        manager.json_response, manager._lifespan_state,
                                        scope, receive, send)
            return
        await self.app(scope, receive, send)


@contextlib.contextmanager
def serve(kind: str) -> Iterator[Served]:
    """One SDK server: dual (the default) | modern | stateless | json | resumable | guarded |
    legacy | replicas."""
    if kind == "replicas":
        app: Any = RoundRobin([make_server(), make_server()])
    elif kind == "legacy":
        app = make_server().sse_app(transport_security=OPEN)
    elif kind == "modern":
        app = ModernOnly(make_server())
    else:
        settings: dict[str, Any] = {
            "dual": {}, "healthy": {}, "stateless": {"stateless_http": True},
            "json": {"json_response": True},
            "resumable": {"event_store": MemoryEventStore(), "retry_interval": 100},
            "guarded": {"transport_security": GUARDED},
        }[kind]
        settings.setdefault("transport_security", OPEN)
        app = make_server().streamable_http_app(**settings)
    with Served(app) as served:
        yield served
