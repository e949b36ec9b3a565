"""JSON-RPC 2.0 as MCP uses it: the messages the profile sends, and a strict reading of what
comes back (one JSON object per POST body or per SSE event's data).

Written by hand because the only complete model of these messages is the `mcp` SDK's
(pydantic), a test dependency here: the doctor must read a broken server's bytes without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sse_doctor.version import __version__

DEFAULT_VERSION = "2025-06-18"
LEGACY_VERSION = "2024-11-05"
ACCEPT_POST = "application/json, text/event-stream"
EXCERPT = 200


def request(rpc_id: int, method: str, params: dict[str, Any] | None = None) -> bytes:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rpc_id, "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg, separators=(",", ":")).encode()


def notification(method: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method}, separators=(",", ":")).encode()


def initialize(rpc_id: int, version: str) -> bytes:
    return request(rpc_id, "initialize", {
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "sse-doctor", "version": __version__},
    })


@dataclass(frozen=True)
class Message:
    """One message read from the server: its kind, or why it is not JSON-RPC 2.0."""

    kind: str  # request | notification | response | error | invalid
    obj: Any = None
    why: str = ""  # for invalid: what is wrong, in words
    excerpt: str = ""

    @property
    def id(self) -> Any:
        return self.obj.get("id") if isinstance(self.obj, dict) else None

    @property
    def method(self) -> str | None:
        return self.obj.get("method") if isinstance(self.obj, dict) else None

    def answers(self, rpc_id: int) -> bool:
        return self.kind in ("response", "error") and self.id == rpc_id

    def error_text(self) -> str:
        err = self.obj.get("error") if isinstance(self.obj, dict) else None
        if not isinstance(err, dict):
            return "an error without details"
        return f"error {err.get('code')}: {str(err.get('message', ''))[:EXCERPT]}"


def excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip()
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def read(text: str | bytes) -> list[Message]:
    """The messages in one body or event (a JSON-RPC batch is a list of them)."""
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return [Message("invalid", why=f"not JSON ({exc.__class__.__name__})",
                        excerpt=excerpt(text))]
    if isinstance(obj, list):
        if not obj:
            return [Message("invalid", obj, "an empty batch", excerpt(text))]
        return [classify(o, excerpt(json.dumps(o))) for o in obj]
    return [classify(obj, excerpt(text))]


def classify(obj: Any, shown: str = "") -> Message:
    """JSON-RPC 2.0: an object with "jsonrpc": "2.0" that is a request (method + id), a
    notification (method, no id), a result or an error response (id + exactly one of them)."""
    shown = shown or excerpt(json.dumps(obj))
    if not isinstance(obj, dict):
        return Message("invalid", obj, f"a JSON {type(obj).__name__}, not an object", shown)
    if obj.get("jsonrpc") != "2.0":
        return Message("invalid", obj, 'no "jsonrpc": "2.0" member', shown)
    if "method" in obj:
        if not isinstance(obj["method"], str):
            return Message("invalid", obj, '"method" is not a string', shown)
        if "id" in obj:
            if not _valid_id(obj["id"]):
                return Message("invalid", obj, "a request id that is not a string or number",
                               shown)
            return Message("request", obj, excerpt=shown)
        return Message("notification", obj, excerpt=shown)
    has_result, has_error = "result" in obj, "error" in obj
    if "id" not in obj:
        return Message("invalid", obj, 'neither "method" nor "id"', shown)
    if has_result == has_error:
        return Message("invalid", obj, 'a response needs exactly one of "result" and "error"',
                       shown)
    if has_error:
        err = obj["error"]
        if not isinstance(err, dict) or not isinstance(err.get("code"), int):
            return Message("invalid", obj, '"error" is not an object with an integer "code"',
                           shown)
        return Message("error", obj, excerpt=shown)
    return Message("response", obj, excerpt=shown)


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
