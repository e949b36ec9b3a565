"""probe --profile mcp against the official `mcp` SDK 2.x servers (MCPServer under uvicorn):
the dual-era default (2026-07-28 beside the 2025 session), modern-only, stateless, JSON
answers, SSE polling with an event store, DNS-rebinding protection, the old HTTP+SSE
transport and replicas without shared sessions; the SDK's own client as a second opinion.

Every server is started once for the module and every CLI run starts together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import cli, start_cli_together
from tests.support.mcp_servers import Served, serve

WINDOW = ("--duration", "1.5")
FULL_SESSION_ID = re.compile(r"[0-9a-f]{32}")
# name -> kind: the 2026 and the 2025 runs each get their own balancer (a shared one would
# interleave their turns).
SERVERS = {k: k for k in ("dual", "modern", "stateless", "json", "resumable", "guarded",
                          "legacy", "replicas")} | {"replicas-2026": "replicas"}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Served]]:
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(serve(kind)) for name, kind in SERVERS.items()}


def _runs(s: dict[str, Served]) -> dict[str, tuple[str, ...]]:
    mcp = ("--profile", "mcp", *WINDOW)
    url = {k: v.url("/sse" if k == "legacy" else "/mcp") for k, v in s.items()}
    return {
        "dual": ("probe", url["dual"], *mcp, "--json", "-"),
        "dual-text": ("probe", url["dual"], *mcp),
        "dual-2025": ("probe", url["dual"], *mcp, "--mcp-version", "2025-06-18", "--json", "-"),
        "dual-2025-03": ("probe", url["dual"], *mcp, "--mcp-version", "2025-03-26",
                         "--json", "-"),
        "dual-2026": ("probe", url["dual"], *mcp, "--mcp-version", "2026-07-28", "--json", "-"),
        "dual-call": ("probe", url["dual"], *mcp, "--call", "add", "--args", '{"a": 2, "b": 3}',
                      "--json", "-"),
        "dual-bad-call": ("probe", url["dual"], *mcp, "--call", "add", "--args", '{"a": "x"}',
                          "--json", "-"),
        "dual-ask": ("probe", url["dual"], *mcp, "--call", "confirm", "--json", "-"),
        "dual-cancel": ("disconnect", url["dual"], "--profile", "mcp", "--call", "work",
                        "--args", '{"seconds": 5}', "--after", "0.8", "--grace", "3",
                        "--watch-json", s["dual"].url("/state") + "#running", "--json", "-"),
        "dual-answer": ("probe", url["dual"], *mcp, "--call", "confirm", "--input-responses",
                        '{"go": {"action": "accept", "content": {"ok": true}}}', "--json", "-"),
        "dual-idle": ("probe", url["dual"], *mcp, "--mcp-version", "2025-06-18",
                      "--idle-limit", "0.5", "--json", "-"),
        "dual-plain": ("probe", url["dual"], *WINDOW, "--json", "-"),
        "modern": ("probe", url["modern"], *mcp, "--json", "-"),
        "modern-2025": ("probe", url["modern"], *mcp, "--mcp-version", "2025-11-25",
                        "--json", "-"),
        "modern-plain": ("probe", url["modern"], *WINDOW, "--json", "-"),
        "stateless": ("probe", url["stateless"], *mcp, "--json", "-"),
        "stateless-2025": ("probe", url["stateless"], *mcp, "--mcp-version", "2025-11-25",
                           "--json", "-"),
        "json": ("probe", url["json"], *mcp, "--json", "-"),
        "json-2025": ("probe", url["json"], *mcp, "--mcp-version", "2025-11-25", "--json", "-"),
        "polling": ("probe", url["resumable"], *mcp, "--mcp-version", "2025-11-25",
                    "--call", "slow_poll", "--json", "-"),
        "guarded": ("probe", url["guarded"], *mcp, "--json", "-"),
        "guarded-proxied": ("probe", url["guarded"], *mcp, "-H", "Host: mcp.example.com",
                            "--json", "-"),
        "guarded-proxied-2025": ("probe", url["guarded"], *mcp, "--mcp-version", "2025-06-18",
                                 "-H", "Host: mcp.example.com", "--json", "-"),
        "accept-json": ("probe", url["dual"], *mcp, "--mcp-version", "2025-06-18",
                        "-H", "Accept: application/json", "--json", "-"),
        "legacy": ("probe", url["legacy"], *mcp, "--json", "-"),
        "replicas": ("probe", url["replicas-2026"], *mcp, "--json", "-"),
        "replicas-2025": ("probe", url["replicas"], *mcp, "--mcp-version", "2025-06-18",
                          "--json", "-"),
    }


@pytest.fixture(scope="module")
def runs(servers: dict[str, Served]) -> dict[str, tuple[Any, int, str]]:
    """Each run's (report or text, exit code, stderr)."""
    started = start_cli_together(_runs(servers))
    out: dict[str, tuple[Any, int, str]] = {}
    for name, run in started.items():
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode is not None
        report = json.loads(stdout) if "--json" in run.args else stdout
        out[name] = (report, run.returncode, stderr)
    return out


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def steps(report: dict[str, Any]) -> dict[str, Any]:
    return {s["step"]: s["status"] for s in report["profile"]["steps"]}


def test_the_dual_era_sdk_server_is_spoken_to_in_2026_07_28_and_healthy(runs) -> None:
    report, rc, err = runs["dual"]
    assert err == "" and rc == 0 and report["verdict"] == "healthy", report["findings"]
    m = report["profile"]["metrics"]
    assert m["revision"] == "2026-07-28" and m["revisions_supported"] == ["2026-07-28"]
    assert m["negotiation"].startswith("discover 2026-07-28: 200")
    assert m["tools"] == 5 and m["resources"] == 1 and m["prompts"] == 1
    assert m["session"] is None and m["listen"] == "ok" and m["call"] is None
    assert steps(report) == {"server/discover": 200, "tools/list": 200, "resources/list": 200,
                             "prompts/list": 200, "header check": 400,
                             "subscriptions/listen": 200}
    # The held stream the report shows is the listen stream, judged as any SSE stream.
    assert report["connection"]["headers"]["content-type"] == "text/event-stream"
    assert report["stats"]["events"] >= 1  # the acknowledgement
    text, rc_text, _ = runs["dual-text"]
    assert rc_text == 0 and "HEALTHY" in text
    for shown in ("revision 2026-07-28", "server/discover: 200", "subscriptions/listen: 200",
                  "acknowledged", "negotiation"):
        assert shown in text, shown


def test_an_explicit_2025_revision_still_walks_the_2025_session(runs) -> None:
    report, rc, _ = runs["dual-2025"]
    assert rc == 0 and report["findings"] == []
    assert steps(report) == {"initialize": 200, "notifications/initialized": 202,
                             "tools/list": 200, "GET stream": 200, "resume": "skipped",
                             "DELETE": 200, "after DELETE": 404}
    m = report["profile"]["metrics"]
    assert m["revision"] == m["protocol_version"] == "2025-06-18"
    assert m["negotiation"] == "initialize 2025-06-18: 2025-06-18"
    # The session id is shown only shortened, in every output.
    assert m["session"].endswith("…") and len(m["session"]) <= 9
    assert not FULL_SESSION_ID.search(json.dumps(report))
    older, rc_older, _ = runs["dual-2025-03"]
    assert rc_older == 0 and older["profile"]["metrics"]["revision"] == "2025-03-26"
    modern, rc_modern, _ = runs["dual-2026"]
    assert rc_modern == 0 and modern["profile"]["metrics"]["revision"] == "2026-07-28"


def test_an_unknown_revision_is_a_usage_error_listing_the_known_ones(servers) -> None:
    r = cli("probe", servers["dual"].url("/mcp"), "--profile", "mcp",
            "--mcp-version", "2099-01-01")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "2099-01-01" in r.stderr
    assert "2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28" in r.stderr


def test_the_one_tool_call_asked_for_is_made_and_judged(runs) -> None:
    report, rc, _ = runs["dual-call"]
    assert rc == 0 and report["findings"] == []
    assert report["profile"]["metrics"]["call"] == "ok"
    call = next(s for s in report["profile"]["steps"] if s["step"] == "tools/call add")
    assert call["status"] == 200 and call["detail"].startswith("result: 5")
    bad, rc_bad, _ = runs["dual-bad-call"]
    assert rc_bad == 0 and codes(bad) == {"mcp-call-failed"}  # a warning
    assert bad["profile"]["metrics"]["call"] in ("error", "tool-error")


def test_input_required_is_a_valid_answer_and_the_round_trip_completes(runs) -> None:
    asked, rc, _ = runs["dual-ask"]
    assert rc == 0 and asked["findings"] == [] and asked["profile"]["metrics"]["call"] == \
        "input_required"
    step = next(s for s in asked["profile"]["steps"] if s["step"] == "tools/call confirm")
    assert "input_required" in step["detail"] and "(go)" in step["detail"]
    answered, rc, _ = runs["dual-answer"]
    assert rc == 0 and answered["findings"] == [] and answered["profile"]["metrics"]["call"] == "ok"
    final = next(s for s in answered["profile"]["steps"]
                 if s["step"] == "tools/call confirm (with input)")
    assert final["detail"].startswith("result: confirmed")


def test_the_sdk_cancels_a_call_whose_stream_is_closed(runs) -> None:
    # disconnect --profile mcp --call: the SDK 2.3 cancels the tool's task when its response
    # stream closes; the watched count of running calls returns to 0, and it serves again.
    report, rc, err = runs["dual-cancel"]
    assert err == "" and rc == 0 and report["findings"] == [], report["scenarios"][0]
    steps = [s["text"] for s in report["scenarios"][0]["experiment"]["steps"]]
    assert any(t.startswith("connection #1:") and "dropped (RST" in t for t in steps), steps
    assert any(t.startswith("back to baseline: running") for t in steps), steps
    assert any(t.startswith("reconnect: accepted (200)") for t in steps), steps


def test_the_sdk_client_agrees_with_the_profile(servers, runs) -> None:
    from mcp import Client

    async def sdk_view(url: str) -> dict[str, Any]:
        async with Client(url) as client:
            tools = await client.list_tools()
            info = client.server_info
            return {"revision": client.protocol_version, "tools": len(tools.tools),
                    "server": f"{info.name} {info.version}" if info else None}

    sdk = asyncio.run(sdk_view(servers["dual"].url("/mcp")))
    m = runs["dual"][0]["profile"]["metrics"]
    assert {k: m[k] for k in sdk} == sdk
    assert sdk["revision"] == "2026-07-28"


def test_a_modern_only_server_is_healthy_and_a_2025_client_is_told_why_not(runs) -> None:
    report, rc, _ = runs["modern"]
    assert rc == 0 and report["findings"] == [], report["profile"]["steps"]
    assert report["profile"]["metrics"]["revision"] == "2026-07-28"
    old, rc_old, _ = runs["modern-2025"]
    assert rc_old == 1 and codes(old) == {"mcp-initialize-failed"}
    assert "_meta" in old["findings"][0]["detail"]  # the server's own words, quoted
    plain, _, _ = runs["modern-plain"]
    hints = [f for f in plain["findings"] if f["code"] == "profile-hint"]
    assert len(hints) == 1 and "405" in hints[0]["detail"] and "POST" in hints[0]["detail"]


@pytest.mark.parametrize("name, revision, metric, value", [
    ("stateless", "2026-07-28", "session", None),
    ("stateless-2025", "2025-11-25", "session", None),
    ("json", "2026-07-28", "response_mode", "json"),
    ("json-2025", "2025-11-25", "response_mode", "json"),
])
def test_spec_compliant_variants_are_healthy(runs, name: str, revision: str, metric: str,
                                             value: Any) -> None:
    report, rc, _ = runs[name]
    assert rc == 0 and report["verdict"] == "healthy", report["findings"]
    m = report["profile"]["metrics"]
    assert m["revision"] == revision and m[metric] == value
    if name == "stateless-2025":
        assert steps(report)["DELETE"] == "skipped"


def test_sse_polling_resumes_and_gets_the_response(runs) -> None:
    report, rc, _ = runs["polling"]
    assert rc == 0 and report["findings"] == [], report["profile"]["steps"]
    resumed = next(s for s in report["profile"]["steps"]
                   if s["step"] == "tools/call slow_poll resume")
    assert resumed["status"] == 200 and "SSE polling" in resumed["detail"]
    assert "retry 100" in resumed["detail"]
    assert report["profile"]["metrics"]["call"] == "ok"


def test_a_second_replica_without_the_session_is_session_lost_in_2025_only(runs) -> None:
    modern, rc, _ = runs["replicas"]
    assert rc == 0 and modern["findings"] == []  # 2026-07-28 has no session to lose
    report, rc_2025, _ = runs["replicas-2025"]
    assert rc_2025 == 1 and codes(report) == {"mcp-session-lost"}
    assert steps(report)["notifications/initialized"] == 404


def test_dns_rebinding_protection_refusing_a_proxied_host_is_host_rejected(runs) -> None:
    ok, _, _ = runs["guarded"]
    assert ok["verdict"] == "healthy"
    for name in ("guarded-proxied", "guarded-proxied-2025"):
        report, rc, _ = runs[name]
        assert rc == 1 and codes(report) == {"mcp-host-rejected"}, name
        [f] = report["findings"]
        assert "421" in f["detail"] and "DNS-rebinding" in f["detail"] and "Host" in f["detail"]
        assert "allowed hosts" in f["detail"]


def test_an_accept_header_without_event_stream_is_406_in_words(runs) -> None:
    report, _, _ = runs["accept-json"]
    assert codes(report) == {"mcp-initialize-failed"}
    assert "406 Not Acceptable" in report["findings"][0]["detail"]


def test_the_old_http_sse_transport_is_found_and_driven(runs) -> None:
    report, rc, _ = runs["legacy"]
    assert rc == 0  # a warning: the session worked over the old transport
    assert codes(report) == {"mcp-legacy-transport"}
    m = report["profile"]["metrics"]
    assert m["transport"] == "http+sse" and m["tools"] == 5 and m["revision"] == "2024-11-05"
    assert m["negotiation"].startswith("discover 2026-07-28: 405")
    assert "session_id=" not in json.dumps(report).replace("session_id=[REDACTED]", "")


def test_the_plain_probe_of_an_sdk_server_points_to_the_mcp_profile(runs) -> None:
    report, _, _ = runs["dual-plain"]
    hints = [f for f in report["findings"] if f["code"] == "profile-hint"]
    assert len(hints) == 1 and hints[0]["evidence"]["profile"] == "mcp"
    assert "--profile mcp" in hints[0]["detail"]
    shown = report["connection"]["headers"].get("mcp-session-id")
    assert shown is None or (shown.endswith("…") and not FULL_SESSION_ID.search(
        json.dumps(report)))


def test_an_idle_server_stream_is_no_heartbeat_as_for_any_stream(runs) -> None:
    # The SDK sends its first keepalive comment after 15 s: a shorter idle limit sees the
    # silence a proxy with a short idle timeout would cut.
    report, _, _ = runs["dual-idle"]
    assert codes(report) == {"no-heartbeat"}
