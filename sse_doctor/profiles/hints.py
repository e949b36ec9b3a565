"""profile-hint: the plain probe sees the signs of a protocol that needs a conversation and
says which --profile runs it. Pure: an observation (SSE or WS) and its URL in, findings out.

These signs are read here, not in the profiles, so a hint works whether or not the profile
it points to is built into this version."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from sse_doctor.model import Finding, finding

# graphql-transport-ws (and Apollo's graphql-ws) close codes: bad message, unauthorized,
# forbidden, subprotocol not acceptable, init timeout, subscriber exists, too many inits.
GRAPHQL_CLOSE_CODES = {4400, 4401, 4403, 4406, 4408, 4409, 4429, 4499, 4500}
GRAPHQL_SUBPROTOCOLS = ("graphql-transport-ws", "graphql-ws")
_MCP_TEXT = re.compile(rb"missing (or invalid )?session id|mcp-session-id|no valid session id",
                       re.I)


def socketio_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return "/socket.io/" in parts.path + "/" or "EIO=" in parts.query


def _jsonrpc_error(body: bytes) -> bool:
    try:
        doc = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("jsonrpc") == "2.0" and "error" in doc


def mcp_signs(status: int | None, body: bytes) -> str | None:
    if status is None or status < 400:
        return None
    if _MCP_TEXT.search(body):
        return f"the server answered {status} asking for an MCP session"
    if _jsonrpc_error(body.strip()):
        return f"the server answered {status} with a JSON-RPC error, as an MCP server does"
    return None


def graphql_signs(obs: Any) -> str | None:
    close = getattr(obs, "close", None)
    code = getattr(close, "code", None)
    if code in GRAPHQL_CLOSE_CODES:
        return f"the server closed with {code}, a GraphQL over WebSocket close code"
    if getattr(obs, "subprotocol", None) in GRAPHQL_SUBPROTOCOLS:
        return f"the server chose the {obs.subprotocol} subprotocol"
    return None


def profile_hints(obs: Any, url: str, protocol: str) -> list[Finding]:
    """At most one hint: the profile this stream's signs point to."""
    if getattr(obs, "unreachable", None):
        return []
    if socketio_url(url):
        return [_hint("socketio", "the URL is a Socket.IO endpoint (/socket.io/ or EIO=)")]
    if protocol == "ws":
        why = graphql_signs(obs)
        if why is None:
            status = getattr(obs, "status", None)
            why = mcp_signs(status, getattr(obs, "body_excerpt", b"")) if status != 101 else None
            if why is not None:
                return [_hint("mcp", why)]
            return []
        return [_hint("graphql", why)]
    why = mcp_signs(getattr(obs, "status", None), getattr(obs, "body_excerpt", b"")) \
        or modern_mcp_signs(obs, url)
    if why is not None:
        return [_hint("mcp", why)]
    return []


def modern_mcp_signs(obs: Any, url: str) -> str | None:
    """A 2026-07-28 MCP server takes POST only: its GET is 405 (Allow: POST), body empty."""
    if getattr(obs, "status", None) != 405 or profile_for_url(url) != "mcp":
        return None
    allow_value = next((str(v) for k, v in getattr(obs, "headers", None) or []
                        if str(k).lower() == "allow"), "")
    allow = {m.strip().upper() for m in allow_value.split(",") if m.strip()}
    if allow == {"POST"}:
        return ("the server answered 405 allowing only POST on an /mcp path, as a 2026-07-28 "
                "MCP server does (no GET stream)")
    return None


# URL paths of the common LLM streaming APIs (OpenAI and compatible servers, Anthropic).
_LLM_PATH = re.compile(r"/(chat/completions|completions|responses|messages)/?$")


def profile_for_url(url: str) -> str | None:
    """The profile a URL alone suggests (for `init`, which sends nothing): the usual paths of
    the LLM APIs, MCP's /mcp, Socket.IO's /socket.io/, a /graphql endpoint."""
    try:
        path = urlsplit(url).path.lower()
    except ValueError:
        return None
    if socketio_url(url):
        return "socketio"
    if _LLM_PATH.search(path):
        return "llm"
    if path.rstrip("/").endswith("/mcp"):
        return "mcp"
    if path.rstrip("/").endswith("/graphql"):
        return "graphql"
    return None


def _hint(profile: str, why: str) -> Finding:
    return finding("profile-hint", f"{why}: run it again with --profile {profile} to drive "
                                   f"the {profile} conversation and check it",
                   profile=profile)
