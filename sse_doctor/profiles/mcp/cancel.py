"""`disconnect URL --profile mcp --call TOOL`: the seed-000 experiment for MCP. The stream
dropped is a 2026-07-28 tools/call's response stream; closing it is the cancellation signal
(spec: "Closing the SSE response stream MUST be treated by the server as cancellation of that
request"). The watchers say whether the work stopped; the follow-up call whether the server
still serves."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.target import Target

DEFAULT_AFTER_S = 1.0  # the call's stream is dropped this long after it opened
LEAK_CODE = "mcp-call-not-cancelled"


def call_target(target: Target, params: dict[str, Any]) -> Target:
    """The target as a tools/call of revision 2026-07-28: POST, the body with its _meta, the
    mirrored headers (the user's -H win), for the tool the user named (UsageError otherwise)."""
    profile = params.get("profile")
    if profile not in ("mcp",):
        raise UsageError(f"disconnect --profile {profile}: only the mcp profile has an "
                         "experiment (disconnect --profile mcp --call TOOL)")
    call, raw = params.get("call"), params.get("args")
    if not call:
        raise UsageError("disconnect --profile mcp needs --call TOOL: the doctor never calls "
                         "a tool unasked")
    try:
        args = json.loads(raw) if raw is not None else {}
    except ValueError as exc:
        raise UsageError(f"--args: not JSON ({exc})") from None
    if not isinstance(args, dict):
        raise UsageError("--args: the tool's arguments must be a JSON object")
    # A progress token: a server that reports progress commits to an SSE stream at once,
    # so there is a stream to close while the work runs (the SDK 2.3 otherwise answers only
    # when the tool is done, or after 15 s).
    body, headers = rpc.modern_request(1, "tools/call", rpc.LATEST_MODERN,
                                       {"name": call, "arguments": args},
                                       progress_token="sse-doctor-cancel")
    given = {k.lower() for k, _ in target.headers}
    merged = [(k, v) for k, v in headers if k.lower() not in given] + list(target.headers)
    return dataclasses.replace(target, method="POST", body=body, body_is_json=True,
                               headers=merged)
