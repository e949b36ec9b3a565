"""Pure checks: an MCP session's record -> findings. Each check emits its own code only."""

from __future__ import annotations

from collections.abc import Callable

from sse_doctor.model import Finding, finding
from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp.protocol import McpRecord, short


def check_initialize(rec: McpRecord) -> list[Finding]:
    if rec.init_failed is None:
        return []
    return [finding("mcp-initialize-failed",
                    f"The MCP session could not be initialized: {rec.init_failed}.",
                    status=rec.init_status, reason=rec.init_failed,
                    protocol_version=rec.version_offered)]


def check_session_lost(rec: McpRecord) -> list[Finding]:
    if not rec.lost:
        return []
    where = "; ".join(f"{step}: {status}" + (f" ({body})" if body else "")
                      for step, status, body in rec.lost)
    sid = short(rec.session_id) if rec.session_id else "?"
    return [finding(
        "mcp-session-lost",
        f"The server issued session {sid} at initialize, then refused it on a later "
        f"request ({where}). Another replica without the session answered, or the server "
        "forgot it.",
        refused=[{"step": s, "status": st} for s, st, _ in rec.lost])]


def check_response_missing(rec: McpRecord) -> list[Finding]:
    if not rec.missing:
        return []
    where = "; ".join(f"{step}: {what}" for step, what in rec.missing)
    return [finding("mcp-response-missing",
                    f"A request got no JSON-RPC response with its id ({where}).",
                    requests=[s for s, _ in rec.missing])]


def check_invalid(rec: McpRecord) -> list[Finding]:
    if not rec.n_invalid:
        return []
    where, why, shown = rec.invalid[0]
    return [finding(
        "mcp-invalid-message",
        f"{rec.n_invalid} message(s) were not JSON-RPC 2.0; the first, on the {where}: {why}"
        + (f": {shown}" if shown else "") + ". The SDK clients drop or fail on such messages.",
        count=rec.n_invalid,
        examples=[{"where": w, "why": y, "excerpt": e} for w, y, e in rec.invalid[:5]])]


def check_legacy(rec: McpRecord) -> list[Finding]:
    if rec.transport != "http+sse":
        return []
    return [finding(
        "mcp-legacy-transport",
        "The server speaks only the 2024-11-05 HTTP+SSE transport (a GET stream that "
        "announces its POST URL in an `endpoint` event); the session was driven over it. "
        "Clients that speak only Streamable HTTP cannot connect.",
        endpoint=rec.legacy_endpoint)]


def check_resume(rec: McpRecord) -> list[Finding]:
    if rec.resume != "broken":
        return []
    return [finding("mcp-resume-broken", f"Resuming a stream went wrong: {rec.resume_detail}.",
                    **rec.resume_evidence)]


def check_terminated(rec: McpRecord) -> list[Finding]:
    if rec.not_terminated is None:
        return []
    return [finding(
        "mcp-session-not-terminated",
        f"DELETE ended the session with a success status, but {rec.not_terminated}; the "
        "spec asks for 404 from then on.")]


def check_refused(rec: McpRecord) -> list[Finding]:
    if not rec.refused:
        return []
    step, status, body = rec.refused[0]
    return [finding("http-error", f"{step} was refused with HTTP {status}"
                    + (f"; the body starts: {body}" if body else " with no body"),
                    status=status, body_excerpt=body)]


def check_revision(rec: McpRecord) -> list[Finding]:
    if rec.revision_refused is None:
        return []
    asked = rec.version_asked
    offered = ", ".join(rec.revision_offered) or "nothing it named"
    if asked == "auto":
        what = (f"No revision in common: {rec.revision_refused}. The server speaks only "
                f"{offered}; sse-doctor (and the official clients) speak "
                f"{', '.join(rpc.KNOWN_REVISIONS)}.")
    else:
        spoke = f"; the walk went on in {rec.version}" if rec.version else ""
        what = (f"--mcp-version {asked} was asked for, but the server will not speak it: "
                f"{rec.revision_refused}. It offered {offered} instead{spoke}.")
    return [finding("mcp-revision-unsupported", what, asked=asked,
                    offered=rec.revision_offered, spoken=rec.version)]


def check_host(rec: McpRecord) -> list[Finding]:
    if rec.host_rejected is None:
        return []
    status, words = rec.host_rejected
    return [finding("mcp-host-rejected", f"{words}.", status=status)]


def check_discover(rec: McpRecord) -> list[Finding]:
    if rec.discover_failed is None:
        return []
    return [finding("mcp-discover-failed",
                    f"{rec.discover_failed}: the answer is a 2026-07-28 error, so the server "
                    "is modern, yet it would not describe itself; clients stop there.",
                    reason=rec.discover_failed)]


def check_listen(rec: McpRecord) -> list[Finding]:
    if rec.listen != "unacknowledged":
        return []
    return [finding("mcp-listen-unacknowledged",
                    f"subscriptions/listen: {rec.listen_detail}. The SDK clients wait for "
                    "notifications/subscriptions/acknowledged before they count the "
                    "subscription as open, then give up.", listen=rec.listen_detail)]


def check_headers(rec: McpRecord) -> list[Finding]:
    if rec.headers_ignored is None:
        return []
    return [finding("mcp-headers-ignored",
                    f"{rec.headers_ignored}: a gateway that routes or limits on the mirrored "
                    "headers then sees another request than the one the server runs.")]


def check_call(rec: McpRecord) -> list[Finding]:
    if rec.call not in ("error", "tool-error"):
        return []
    return [finding("mcp-call-failed", f"The tool call asked for with --call failed: "
                    f"{rec.call_detail}.", outcome=rec.call)]


# (code, check): the profile's checks, in the order findings are listed.
MCP_CHECKS: list[tuple[str, Callable[[McpRecord], list[Finding]]]] = [
    ("mcp-host-rejected", check_host),
    ("mcp-revision-unsupported", check_revision),
    ("mcp-discover-failed", check_discover),
    ("mcp-initialize-failed", check_initialize),
    ("mcp-session-lost", check_session_lost),
    ("mcp-response-missing", check_response_missing),
    ("mcp-invalid-message", check_invalid),
    ("mcp-legacy-transport", check_legacy),
    ("mcp-resume-broken", check_resume),
    ("mcp-session-not-terminated", check_terminated),
    ("mcp-listen-unacknowledged", check_listen),
    ("mcp-headers-ignored", check_headers),
    ("mcp-call-failed", check_call),
]
CODES = tuple(code for code, _ in MCP_CHECKS)


def run_mcp_checks(rec: McpRecord) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    for code, check in MCP_CHECKS:
        for f in check(rec):
            assert f.code == code, f"check for {code} emitted {f.code}"
            findings.append(f)
    return findings, list(CODES)
