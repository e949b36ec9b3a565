"""The official `mcp` SDK's servers (FastMCP) served by uvicorn on 127.0.0.1 for the tests:
healthy (stateful, SSE answers), stateless, JSON answers, with an event store (resumable),
DNS-rebinding protection on, the old HTTP+SSE transport, and two replicas behind a
round-robin without shared sessions."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

mcp = pytest.importorskip("mcp", reason="the mcp SDK is a test dependency (pip install .[test])")

import uvicorn  # noqa: E402
from mcp.server.fastmcp import FastMCP  # noqa: E402
from mcp.server.streamable_http import EventStore  # noqa: E402
from mcp.server.transport_security import TransportSecuritySettings  # noqa: E402

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


def make_server(name: str = "sdk-demo", **settings: Any) -> FastMCP:
    settings.setdefault("transport_security", OPEN)
    server = FastMCP(name, **settings)

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Say it back."""
        return text

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

    def __init__(self, servers: list[FastMCP]) -> None:
        self.servers = servers
        self.apps = [s.streamable_http_app() for s in servers]
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


@contextlib.contextmanager
def serve(kind: str) -> Iterator[Served]:
    """One SDK server: healthy | stateless | json | resumable | guarded | legacy | replicas."""
    if kind == "replicas":
        app: Any = RoundRobin([make_server(), make_server()])
    elif kind == "legacy":
        app = make_server().sse_app()
    else:
        settings: dict[str, Any] = {
            "healthy": {}, "stateless": {"stateless_http": True},
            "json": {"json_response": True},
            "resumable": {"event_store": MemoryEventStore()},
            "guarded": {"transport_security": GUARDED},
        }[kind]
        app = make_server(**settings).streamable_http_app()
    with Served(app) as served:
        yield served
