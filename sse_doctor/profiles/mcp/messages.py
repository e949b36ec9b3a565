"""JSON-RPC 2.0 as MCP uses it: the messages the profile sends, and a strict reading of what
comes back (one JSON object per POST body or per SSE event's data).

Written by hand because the only complete model of these messages is the `mcp` SDK's
(pydantic), a test dependency here: the doctor must read a broken server's bytes without it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sse_doctor.version import __version__

# The revisions the doctor speaks, oldest first (the spec's released revisions; the SDK 2.3
# lists the same in mcp_types.version.KNOWN_PROTOCOL_VERSIONS).
HANDSHAKE_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_REVISIONS = ("2026-07-28",)  # no initialize: server/discover and per-request _meta
KNOWN_REVISIONS = HANDSHAKE_REVISIONS + MODERN_REVISIONS
LATEST_MODERN = MODERN_REVISIONS[-1]
LATEST_HANDSHAKE = HANDSHAKE_REVISIONS[-1]  # what the official clients offer in initialize
DEFAULT_VERSION = "2025-06-18"  # the fixtures' revision; the profile's default is "auto"
LEGACY_VERSION = "2024-11-05"
ACCEPT_POST = "application/json, text/event-stream"
EXCERPT = 200

# 2026-07-28: the reserved _meta keys every request carries (basic/index, "Per-request
# protocol fields"), and the key on listen-stream frames and results (SEP-2575).
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
# The request-metadata headers of Streamable HTTP 2026-07-28; Mcp-Name for the methods that
# name something (the SDK's NAME_BEARING_METHODS).
NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
# JSON-RPC error codes the spec allocates (2026-07-28 schema): a body carrying one of them
# comes from a modern server, whatever its HTTP status.
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_VERSION = -32022
METHOD_NOT_FOUND = -32601
MODERN_ERRORS = frozenset({HEADER_MISMATCH, MISSING_CLIENT_CAPABILITY, UNSUPPORTED_VERSION})


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


def modern_request(rpc_id: int | str, method: str, version: str,
                   params: dict[str, Any] | None = None, progress_token: str | None = None) \
        -> tuple[bytes, list[tuple[str, str]]]:
    """A 2026-07-28 request: its body (the version and client capabilities in params._meta)
    and the headers that mirror it (MCP-Protocol-Version, Mcp-Method, Mcp-Name)."""
    body_params = dict(params or {})
    body_params["_meta"] = {
        META_PROTOCOL_VERSION: version,
        META_CLIENT_INFO: {"name": "sse-doctor", "version": __version__},
        META_CLIENT_CAPABILITIES: {},
    }
    if progress_token is not None:
        body_params["_meta"]["progressToken"] = progress_token
    headers = [("Accept", ACCEPT_POST), ("Content-Type", "application/json"),
               ("MCP-Protocol-Version", version), ("Mcp-Method", method)]
    named = NAME_BEARING.get(method)
    if named and isinstance(body_params.get(named), str):
        headers.append(("Mcp-Name", header_value(body_params[named])))
    return request(rpc_id, method, body_params), headers


def header_value(value: str) -> str:
    """A value as a header carries it: printable ASCII as is, anything else in the spec's
    `=?base64?...?=` sentinel (Streamable HTTP 2026-07-28, "Value Encoding")."""
    if all(0x20 <= ord(c) <= 0x7E for c in value) and value == value.strip() \
            and not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode()}?="


def error_of(obj: Any) -> tuple[int | None, str, Any]:
    """(code, message, data) of a JSON-RPC error object in a body, else (None, "", None)."""
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), int):
        return None, "", None
    return err["code"], str(err.get("message", ""))[:EXCERPT], err.get("data")


def body_error(body: bytes) -> tuple[int | None, str, Any]:
    """The JSON-RPC error an HTTP error body carries (modern servers send one), if any."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, "", None
    return error_of(obj)


def supported_of(data: Any) -> list[str] | None:
    """`data.supported` of an UnsupportedProtocolVersionError, read exactly: a list of strings
    (None when absent or malformed)."""
    sup = data.get("supported") if isinstance(data, dict) else None
    if isinstance(sup, list) and all(isinstance(v, str) for v in sup):
        return list(sup)
    return None


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
