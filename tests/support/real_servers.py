"""Real third-party servers for the GraphQL and Socket.IO profile tests: python-socketio's
ASGI server and strawberry-graphql's ASGI app, each under uvicorn in a thread on 127.0.0.1 and
a port bound up front."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
import time
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import uvicorn


class Served:
    """An ASGI app under uvicorn in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:  # uvicorn offers no event to wait on
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


# --- python-socketio --------------------------------------------------------------------------
def socketio_server(**kwargs: Any) -> Any:
    """A python-socketio server: greets on connect, answers `subscribe` with `subscribed`,
    disconnects whoever emits `leave-me`, refuses every client of /admin."""
    import socketio

    sio = socketio.AsyncServer(async_mode="asgi", **kwargs)

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        await sio.emit("welcome", {"sid": sid}, to=sid)

    @sio.on("subscribe")
    async def subscribe(sid: str, data: Any) -> None:
        await sio.emit("subscribed", data, to=sid)

    @sio.on("leave-me")
    async def leave_me(sid: str, data: Any) -> None:
        await sio.disconnect(sid)

    @sio.on("connect", namespace="/admin")
    async def admin(sid: str, environ: Any, auth: Any) -> None:
        raise socketio.exceptions.ConnectionRefusedError("admins only")

    return sio


def socketio_app(**kwargs: Any) -> Any:
    import socketio

    return socketio.ASGIApp(socketio_server(**kwargs))


def round_robin(*apps: Any) -> Any:
    """Two server processes behind a load balancer without sticky sessions: each HTTP request
    and WebSocket goes to the next app in turn (each python-socketio server knows only its own
    sessions, as two workers do)."""
    turn = itertools.cycle(apps)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await next(turn)(scope, receive, send)

    return app


# --- strawberry-graphql -----------------------------------------------------------------------
def graphql_app(**kwargs: Any) -> Any:
    """strawberry with both WebSocket subprotocols and graphql-sse: `count` completes,
    `ticks` never ends, `boom` raises after one result; `hello` is a query. The on-connect
    hook refuses an init payload with token "bad" (4403) and waits `slow_ack` seconds."""
    import strawberry
    from strawberry.asgi import GraphQL
    from strawberry.exceptions import ConnectionRejectionError
    from strawberry.subscriptions import (
        GRAPHQL_SSE_PROTOCOL,
        GRAPHQL_TRANSPORT_WS_PROTOCOL,
        GRAPHQL_WS_PROTOCOL,
    )

    slow_ack = kwargs.pop("slow_ack", 0.0)
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)  # expected errors

    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self) -> str:
            return "world"

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def count(self, to: int = 3, delay: float = 0.05) -> AsyncGenerator[int, None]:
            for i in range(to):
                yield i
                await asyncio.sleep(delay)

        @strawberry.subscription
        async def ticks(self, interval: float = 0.2) -> AsyncGenerator[int, None]:
            for i in itertools.count():
                yield i
                await asyncio.sleep(interval)

        @strawberry.subscription
        async def boom(self) -> AsyncGenerator[int, None]:
            yield 1
            raise ValueError("the resolver failed")

    class App(GraphQL):
        async def on_ws_connect(self, context: Any) -> Any:
            if slow_ack:
                await asyncio.sleep(slow_ack)
            if context["connection_params"].get("token") == "bad":
                raise ConnectionRejectionError()
            return await super().on_ws_connect(context)

    kwargs.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,
                                                 GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL))
    kwargs.setdefault("connection_init_wait_timeout", timedelta(seconds=30))
    return App(strawberry.Schema(query=Query, subscription=Subscription), **kwargs)
