"""The real CLI against small servers that behave as real frameworks do (issue 21): a stream
that restarts under fresh UUID ids (better-sse ignores Last-Event-ID), Hono's 'event: error'
inside a 200 stream, and uvicorn with no WebSocket support in front of a Starlette
WebSocket route. One server for the module, the CLI runs started together."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn

# sse-starlette comes with the test extra (the MCP SDK depends on it).
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support import start_cli_together
from tests.support.real_servers import Served

SSE_HEADERS = {"Cache-Control": "no-cache"}


async def restarting(request: Request) -> StreamingResponse:
    """As better-sse's channel example: every event gets a fresh UUID id, Last-Event-ID is
    ignored, and the counter starts again at 1 on every connection."""
    async def body() -> AsyncIterator[bytes]:
        yield b":\nretry: 2000\n\n"
        for n in range(1, 200):
            yield f"id: {uuid.uuid4()}\ndata: {json.dumps({'n': n})}\n\n".encode()
            await asyncio.sleep(0.05)
    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)


async def failing(request: Request) -> StreamingResponse:
    """As Hono's streamSSE when the callback throws: onError, then 'event: error' with the
    message, then the stream closes."""
    async def body() -> AsyncIterator[bytes]:
        for n in range(1, 3):
            yield f"id: {n}\ndata: {json.dumps({'n': n})}\n\n".encode()
            await asyncio.sleep(0.02)
        yield b"event: error\ndata: database unavailable\n\n"
    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)


async def starlette_sse(request: Request) -> EventSourceResponse:
    """sse-starlette as its README shows it: events with ids, its comment ping (': ping - <time>'
    and a blank line) every 0.2 s between them. httpx-sse (0.4) reads an empty event at every
    ping once an id was seen, a browser nothing: its own bug, not this server's."""
    async def events() -> AsyncIterator[ServerSentEvent]:
        for n in range(1, 100):
            yield ServerSentEvent(data=json.dumps({"n": n}), id=str(n), event="tick")
            await asyncio.sleep(0.5)
    return EventSourceResponse(events(), ping=0.2)


async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


APP = Starlette(routes=[Route("/restart", restarting), Route("/error", failing),
                        Route("/sse-starlette", starlette_sse),
                        WebSocketRoute("/ws", chat)])


class NoWebSocketServed(Served):
    """uvicorn with no WebSocket protocol: what it runs when neither websockets nor wsproto is
    installed (ws='auto' finds none) and with --ws none, the same code path (the upgrade is
    logged 'Unsupported upgrade request' and handed to the app as plain HTTP)."""

    def __init__(self, app: Starlette) -> None:
        super().__init__(app)
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = NoWebSocketServed(APP).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def runs(server: Served) -> dict[str, tuple[int, dict, str]]:
    started = start_cli_together({
        "resume": ("resume", server.url("/restart"), "--after-events", "3", "--json", "-"),
        "error": ("probe", server.url("/error"), "--duration", "5", "--json", "-"),
        "ws": ("probe", server.url("/ws", "ws"), "--duration", "3", "--json", "-"),
        "healthy": ("probe", server.url("/sse-starlette"), "--duration", "1.5", "--json", "-"),
    })
    out = {}
    for name, run in started.items():
        stdout, stderr = run.communicate(60)
        out[name] = (run.returncode, json.loads(stdout), stderr)
    return out


def test_resume_recognises_a_restart_under_fresh_ids(runs: dict) -> None:
    code, report, _ = runs["resume"]
    (f,) = [f for f in report["findings"] if f["code"] == "resume-replay"]
    assert f["evidence"]["restarted"] is True
    assert f["evidence"]["resumed_payload"] == '{"n": 1}'
    assert set(f["evidence"]["first_ids"]).isdisjoint(f["evidence"]["resumed_ids"])
    assert report["verdict"] == "warning" and code == 0


def test_an_error_event_in_a_200_stream_is_an_error(runs: dict) -> None:
    code, report, _ = runs["error"]
    codes = [f["code"] for f in report["findings"]]
    assert "error-event" in codes and "stream-ended" not in codes
    assert report["verdict"] == "error" and code == 1


def test_uvicorn_without_websocket_support_cannot_upgrade(runs: dict) -> None:
    code, report, _ = runs["ws"]
    (f,) = report["findings"]
    assert f["code"] == "ws-handshake-failed" and f["evidence"]["status"] == 404
    assert "cannot upgrade to WebSocket at all" in f["detail"]
    assert "No WebSocket route" not in f["detail"]
    assert code == 1


def test_ids_and_comment_pings_are_healthy_without_a_note(runs: dict) -> None:
    """The false alarm of issue 21: client-divergence on every healthy framework with ids."""
    code, report, _ = runs["healthy"]
    assert report["findings"] == [] and report["verdict"] == "healthy" and code == 0
    assert report["stats"]["comments"] >= 3 and report["events"][0]["id"] == "1"
