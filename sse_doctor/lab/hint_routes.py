"""Lab routes that show the signs of a protocol the plain probe does not drive, so it says
which --profile to run (profile-hint)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def mcp_session_required(request: Request) -> Response:
    """What the MCP Python SDK's streamable HTTP server answers a request without a session
    (a plain GET or POST to /mcp): 400 with a JSON-RPC error."""
    return JSONResponse({"jsonrpc": "2.0", "id": "server-error",
                         "error": {"code": -32600, "message": "Bad Request: Missing session ID"}},
                        status_code=400)


HINT_HANDLERS: dict[str, tuple[Callable[[Request], Awaitable[Response]], tuple[str, ...]]] = {
    "mcp-session-required": (mcp_session_required, ("GET", "POST")),
}
