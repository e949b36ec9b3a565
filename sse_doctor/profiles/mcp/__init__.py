"""The MCP profile (`probe URL --profile mcp`): negotiates a revision as the official
clients do (`--mcp-version auto`: 2026-07-28 through server/discover, then the 2025
initialize session over Streamable HTTP, then the 2024-11-05 HTTP+SSE transport), walks what
the server speaks and says where it breaks.

- messages.py: JSON-RPC 2.0 as MCP uses it (what is sent, a strict reading of what comes back)
- protocol.py: the conversation, sans-I/O (request -> reply -> next request), its record and
  the 2025 and 2024-11-05 walks
- modern.py: the negotiation and the 2026-07-28 walk, sans-I/O
- driver.py: the httpx shell that sends each request and reads each answer within bounds
- checks.py: pure checks, record -> mcp-* findings
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from sse_doctor.errors import UsageError
from sse_doctor.model import Finding, ProbeOptions, Result
from sse_doctor.profiles.base import Profile, ProfileContext, finish
from sse_doctor.profiles.core import ProfileResult, Step
from sse_doctor.profiles.mcp import messages
from sse_doctor.profiles.mcp.checks import CODES, check_refused, run_mcp_checks
from sse_doctor.profiles.mcp.protocol import McpRecord, short


class McpOptions:
    def __init__(self, version: str = "auto", call: str | None = None,
                 call_args: dict[str, Any] | None = None,
                 input_responses: dict[str, Any] | None = None) -> None:
        self.version = version
        self.call = call
        self.call_args = call_args
        self.input_responses = input_responses


class McpProfile(Profile):
    name = "mcp"
    schemes = frozenset({"sse"})
    auto = False  # an MCP session is a conversation: asked for by name (profile-hint)
    codes = CODES
    # Answers already seen stand after Ctrl-C; resume and termination need their steps.
    partial_stands = frozenset({"mcp-initialize-failed", "mcp-invalid-message",
                                "mcp-session-lost", "mcp-legacy-transport",
                                "mcp-revision-unsupported", "mcp-host-rejected",
                                "mcp-discover-failed", "mcp-headers-ignored",
                                "mcp-call-failed"})
    # Requests that may each take up to --timeout besides the held stream: a discover that
    # falls back, then the 2025 session (initialize, initialized, tools/list, the GET's head,
    # resume, DELETE, the check after); the 2026 walk is shorter. A suite's budget.
    timeouts: ClassVar[int] = 9

    def options(self, params: dict[str, Any]) -> McpOptions:
        version = params.get("mcp_version") or "auto"
        if version != "auto" and version not in messages.KNOWN_REVISIONS:
            raise UsageError(f"--mcp-version {version!r}: not a revision sse-doctor speaks "
                             f"(auto, {', '.join(messages.KNOWN_REVISIONS)})")
        call = params.get("call")
        for flag, key in (("--args", "args"), ("--input-responses", "input_responses")):
            if params.get(key) is not None and not call:
                raise UsageError(f"{flag} needs --call TOOL")
        args = _json_object(params.get("args"), "--args", "the tool's arguments")
        answers = _json_object(params.get("input_responses"), "--input-responses",
                               "the answers")
        return McpOptions(version, call or None, args, answers)

    async def run(self, ctx: ProfileContext) -> Result:
        from sse_doctor.profiles.mcp.driver import run_session

        popts = ctx.popts or McpOptions()
        run = await run_session(ctx.target, ctx.opts, popts.version, popts.call,
                                popts.call_args, popts.input_responses)
        rec = run.record
        if rec.legacy_endpoint:
            ctx.target.redactor.add_url(rec.legacy_endpoint)  # its session_id parameter
        result = profile_result(rec)
        result.detected = ctx.detected
        obs = main_observation(rec)

        def generic(obs: Any, opts: ProbeOptions) -> tuple[list[Finding], list[str]]:
            return generic_checks(rec, opts)

        return finish(self, ctx.name, ctx.target, ctx.opts, popts, obs, result,
                      generic=generic, generic_opts=ctx.opts)

    def check(self, result: ProfileResult, obs: Any, opts: ProbeOptions,
              popts: Any) -> list[Finding]:
        return run_mcp_checks(result.state)[0]

    def applies(self, obs: Any) -> bool:
        return True  # the session's checks stand whether or not a stream was held

    def irrelevant(self, result: ProfileResult) -> frozenset[str]:
        # The server may end its GET stream at any time (spec: "MAY close the SSE stream"),
        # and event ids are optional (they only make a stream resumable, which is checked).
        return frozenset({"stream-ended", "no-event-ids"})


PROFILE = McpProfile()


def _json_object(raw: str | None, flag: str, what: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"{flag}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag}: {what} must be a JSON object")
    return value
NOT_FOR_MCP_STREAMS = frozenset({"stalled-stream"})


def main_observation(rec: McpRecord) -> Any:
    """The stream the report's connection shows: the GET (or old-transport) stream when one
    was held, else the initialize exchange."""
    if rec.get_observation is not None and rec.get_observation.streamed:
        return rec.get_observation
    return rec.init_observation


def generic_checks(rec: McpRecord, opts: ProbeOptions) -> tuple[list[Finding], list[str]]:
    """The generic checks beneath the profile: an unreachable target, and the usual stream
    checks on the held GET stream (a silent one is no-heartbeat as for any stream)."""
    from sse_doctor.checks import http_checks
    from sse_doctor.checks.selection import HEAD_CHECKS, HTTP2_CHECK, STREAM_CHECKS, run_selected

    init = rec.init_observation
    if rec.unreachable is not None and init is not None and init.unreachable:
        return http_checks.check_unreachable(init), ["target-unreachable"]
    findings: list[Finding] = []
    checks_run: list[str] = []
    get = rec.get_observation
    refused_get = rec.get_status in (405, None) or any(s == "GET stream" for s, _, _ in rec.lost)
    if get is not None and not refused_get:
        selected = list(HEAD_CHECKS)
        if get.streamed:
            # A server's stream is idle between messages by design: keepalives without data
            # are its normal state, not a stalled producer.
            selected += [(code, check) for code, check in STREAM_CHECKS
                     if code not in NOT_FOR_MCP_STREAMS]
            if get.http2_offered:
                selected.append(HTTP2_CHECK)
        findings, checks_run = run_selected(selected, get, opts)
    if not any(f.code == "http-error" for f in findings):
        findings += check_refused(rec)
    if "http-error" not in checks_run:
        checks_run.append("http-error")
    return findings, checks_run


def profile_result(rec: McpRecord) -> ProfileResult:
    modes = sorted(set(rec.response_modes))
    metrics: dict[str, Any] = {
        "revision": rec.version,
        "revisions_supported": rec.revisions_supported,
        "negotiation": " → ".join(rec.negotiation) or None,
        "transport": rec.transport,
        "protocol_version": rec.version,
        "protocol_version_offered": rec.version_offered,
        "server": rec.server,
        "session": short(rec.session_id) if rec.session_id else None,
        "response_mode": modes[0] if len(modes) == 1 else ("mixed" if modes else None),
        "tools": rec.tools,
        "initialize_ms": None if rec.initialize_ms is None else round(rec.initialize_ms, 1),
        "get_stream": rec.get_status,
        "resume": rec.resume or "not tried",
        "terminate": rec.terminate,
        "call": rec.call,
    }
    if rec.era == "modern":
        metrics.update({"resources": rec.resources, "prompts": rec.prompts,
                        "listen": rec.listen})
    facts: list[tuple[str, str]] = []
    if rec.version:
        facts.append(("mcp", f"{rec.transport} · revision {rec.version}"
                      + (f" · server {rec.server}" if rec.server else "")
                      + (f" · {rec.tools} tool{'' if rec.tools == 1 else 's'}"
                         if rec.tools is not None else "")))
    if rec.session_id:
        facts.append(("session", short(rec.session_id)))
    if rec.negotiation:
        facts.append(("negotiation", " → ".join(rec.negotiation)))
    main = main_observation(rec)
    if main is not None and not main.unreachable:
        first = next((s.step for s in reversed(rec.steps)
                      if s.step in ("initialize", "server/discover")), "initialize")
        held = "subscriptions/listen" if rec.era == "modern" else "the server's stream"
        facts.append(("connection", f"below: {held}, held for the window"
                      if main is rec.get_observation else f"below: the answer to {first}"))
    steps = [Step(s.t_ms, s.step, s.status, s.detail) for s in rec.steps]
    return ProfileResult(name="mcp", dialect=rec.transport, metrics=metrics, steps=steps,
                         facts=facts, state=rec)
