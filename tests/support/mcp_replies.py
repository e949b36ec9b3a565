"""Replies and scripts for the MCP profile's sans-I/O session, shared by its unit tests: recorded
SDK answers (fixtures/mcp), hand-made SSE replies, and a driver that answers each request from a
script."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp.checks import run_mcp_checks
from sse_doctor.profiles.mcp.protocol import McpRecord, McpSession, Reply, Request, SseItem
from sse_doctor.sse.parser import Event, SSEParser
from tests.support.paths import FIXTURES as ALL_FIXTURES

FIXTURES = ALL_FIXTURES / "mcp"
URL = "http://127.0.0.1:9/mcp"
SSE = [("content-type", "text/event-stream")]


def events_of(body: str, t_ms: float = 0.0) -> list[SseItem]:
    p = SSEParser()
    items = p.feed(body.encode(), t_ms) + p.close(t_ms)
    return [SseItem(i.t, i.type, i.data, i.id, i.retry) for i in items if type(i) is Event]


def recorded(name: str, t_ms: float = 0.0) -> Reply:
    doc = json.loads((FIXTURES / f"{name}.json").read_text())
    reply = Reply(status=doc["status"], t_ms=t_ms, headers=[tuple(h) for h in doc["headers"]],
                  ended="response")
    if reply.is_sse:
        reply.events = events_of(doc["body"], t_ms)
    else:
        reply.body = doc["body"].encode()
    return reply


def sse(body: str, status: int = 200, ended: str = "server") -> Reply:
    return Reply(status=status, headers=SSE, events=events_of(body), ended=ended)


def message_event(obj: object, event_id: str = "") -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: message\ndata: {json.dumps(obj)}\n\n"


def get_stream(n: int = 0, ids: bool = True) -> Reply:
    body = "".join(message_event({"jsonrpc": "2.0", "method": "notifications/message",
                                  "params": {"data": i}}, str(i) if ids else "")
                   for i in range(1, n + 1))
    return sse(body, ended="deadline")


Script = dict[str, Reply | Callable[[Request], Reply]]


def converse(script: Script, version: str = rpc.DEFAULT_VERSION) \
        -> tuple[McpRecord, list[Request]]:
    """Drive a session: each request is answered by its step's entry in the script."""
    session = McpSession(URL, version)
    sent: list[Request] = []
    req = session.start()
    while req is not None:
        sent.append(req)
        assert len(sent) < 20, [r.step for r in sent]
        answer = script[req.step]
        req = session.receive(answer(req) if callable(answer) else answer)
    return session.record, sent


def found(rec: McpRecord) -> set[str]:
    return {f.code for f in run_mcp_checks(rec)[0]}


def healthy_script(**changes: Reply | Callable[[Request], Reply]) -> Script:
    script: Script = {
        "initialize": recorded("sdk-sse-initialize"),
        "notifications/initialized": recorded("sdk-sse-initialized"),
        "tools/list": recorded("sdk-sse-tools-list"),
        "GET stream": Reply(status=405, body=b"Method Not Allowed"),
        "DELETE": Reply(status=200),
        "after DELETE": recorded("sdk-unknown-session"),
        "resume": lambda req: pytest.fail("nothing to resume"),
    }
    script.update(changes)
    return script
