"""A real python-socketio server (ASGI, under uvicorn) probed as a plain WebSocket: its
Engine.IO layer pings the client, and a client that never answers is sent away with a normal
close (1000) after ping_interval + ping_timeout. The probe must say so (ws-server-closed),
when, and after which of our messages, instead of a silent HEALTHY."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.support import cli

socketio = pytest.importorskip("socketio", reason="python-socketio is in the test extra")

PING_INTERVAL_S = 1
PING_TIMEOUT_S = 1
WINDOW_S = 8  # the server closes at about 2 s: plenty of room on a busy machine


@pytest.fixture(scope="module")
def socketio_url() -> Iterator[str]:
    sio = socketio.AsyncServer(async_mode="asgi", ping_interval=PING_INTERVAL_S,
                               ping_timeout=PING_TIMEOUT_S)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(socketio.ASGIApp(sio), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)  # uvicorn has no event to wait on; started flips once it listens
    assert server.started
    try:
        yield f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_socketio_ping_timeout_close_is_ws_server_closed(socketio_url: str) -> None:
    # --profile none: the plain WebSocket probe, which does not answer Engine.IO's pings (a
    # Socket.IO URL otherwise gets the socketio profile); it still points to the profile.
    proc = cli("probe", socketio_url, "--duration", str(WINDOW_S), "--send", "40",
               "--profile", "none", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "healthy"
    assert [f["code"] for f in report["findings"]] == ["ws-server-closed", "profile-hint"]
    f = report["findings"][0]
    close = report["close"]
    assert close["by"] == "server" and close["code"] == 1000
    # Engine.IO closes once its ping went unanswered for ping_timeout: never before.
    assert close["t_ms"] >= (PING_INTERVAL_S + PING_TIMEOUT_S) * 1000 * 0.9
    assert f["evidence"]["close_ms"] == close["t_ms"]
    assert f["evidence"]["after_message"] == 1
    assert "after your message #1 (text 2 B '40')" in f["detail"]
    texts = [m["text"] for m in report["messages"] if m["dir"] == "in" and m["type"] == "text"]
    assert texts[0].startswith("0{") and "2" in texts  # the open packet, then a ping


def test_terminal_verdict_line_names_the_close(socketio_url: str) -> None:
    proc = cli("probe", socketio_url, "--duration", str(WINDOW_S), "--profile", "none")
    assert proc.returncode == 0, proc.stderr
    verdict = proc.stdout.splitlines()[1]
    assert "HEALTHY" in verdict and "notes: ws-server-closed" in verdict
    assert "after the handshake (you sent nothing)" in proc.stdout
