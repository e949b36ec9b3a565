"""probe --profile mcp against the official `mcp` SDK's own servers (FastMCP under uvicorn):
healthy and misconfigured, and the SDK's own client as a second opinion."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from tests.support import cli
from tests.support.mcp_servers import serve

WINDOW = ("--duration", "1.5")
FULL_SESSION_ID = re.compile(r"[0-9a-f]{32}")


def probe(url: str, *args: str) -> tuple[dict[str, Any], Any]:
    r = cli("probe", url, "--profile", "mcp", *WINDOW, *args, "--json", "-")
    assert r.stderr == "", r.stderr
    return json.loads(r.stdout), r


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def steps(report: dict[str, Any]) -> dict[str, Any]:
    return {s["step"]: s["status"] for s in report["profile"]["steps"]}


def test_healthy_sdk_server_is_healthy_with_every_step_shown() -> None:
    with serve("healthy") as server:
        r = cli("probe", server.url("/mcp"), "--profile", "mcp", *WINDOW)
        report, rj = probe(server.url("/mcp"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "HEALTHY" in r.stdout
    for shown in ("initialize: 200", "notifications/initialized: 202", "tools/list: 200",
                  "GET stream: 200", "DELETE: 200", "after DELETE: 404", "2 tools"):
        assert shown in r.stdout, shown
    assert rj.returncode == 0 and report["verdict"] == "healthy" and report["findings"] == []
    assert steps(report) == {"initialize": 200, "notifications/initialized": 202,
                             "tools/list": 200, "GET stream": 200, "resume": "skipped",
                             "DELETE": 200, "after DELETE": 404}
    m = report["profile"]["metrics"]
    assert report["profile"]["name"] == "mcp"
    assert m["transport"] == "streamable-http" and m["protocol_version"] == "2025-06-18"
    assert m["tools"] == 2 and m["response_mode"] == "sse" and m["terminate"] == "ok"
    # The session id is shown only shortened, in every output.
    assert m["session"].endswith("…") and len(m["session"]) <= 9
    assert report["connection"]["headers"]["mcp-session-id"] == m["session"]
    assert not FULL_SESSION_ID.search(r.stdout) and not FULL_SESSION_ID.search(rj.stdout)


def test_the_sdk_client_agrees_with_the_profile() -> None:
    from mcp import ClientSession
    from mcp.client import streamable_http
    from mcp.types import LATEST_PROTOCOL_VERSION

    # streamable_http_client is the name from 1.24 on; streamablehttp_client before.
    client = getattr(streamable_http, "streamable_http_client", None) \
        or streamable_http.streamablehttp_client

    async def sdk_view(url: str) -> dict[str, Any]:
        async with client(url) as (read, write, _), ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            return {"server": f"{init.serverInfo.name} {init.serverInfo.version}",
                    "protocol_version": init.protocolVersion, "tools": len(tools.tools)}

    with serve("healthy") as server:
        sdk = asyncio.run(sdk_view(server.url("/mcp")))
        # Offered the version the SDK client offers, the profile must see what it saw.
        report, r = probe(server.url("/mcp"), "--mcp-version", LATEST_PROTOCOL_VERSION)
    assert r.returncode == 0
    m = report["profile"]["metrics"]
    assert {k: m[k] for k in sdk} == sdk


@pytest.mark.parametrize("kind, metric, value", [
    ("stateless", "session", None),
    ("json", "response_mode", "json"),
])
def test_spec_compliant_variants_are_healthy(kind: str, metric: str, value: Any) -> None:
    with serve(kind) as server:
        report, r = probe(server.url("/mcp"))
    assert r.returncode == 0, report["findings"]
    assert report["verdict"] == "healthy"
    assert report["profile"]["metrics"][metric] == value
    if kind == "stateless":
        assert steps(report)["DELETE"] == "skipped"


def test_a_second_replica_without_the_session_is_session_lost() -> None:
    with serve("replicas") as server:
        report, r = probe(server.url("/mcp"))
    assert r.returncode == 1
    assert codes(report) == {"mcp-session-lost"}
    assert steps(report)["notifications/initialized"] == 404


def test_dns_rebinding_protection_refusing_a_proxied_host_is_initialize_failed() -> None:
    with serve("guarded") as server:
        ok, _ = probe(server.url("/mcp"))
        report, r = probe(server.url("/mcp"), "-H", "Host: mcp.example.com")
    assert ok["verdict"] == "healthy"
    assert r.returncode == 1 and codes(report) == {"mcp-initialize-failed"}
    [f] = report["findings"]
    assert "421" in f["detail"] and "DNS-rebinding" in f["detail"] and "Host" in f["detail"]


def test_an_accept_header_without_event_stream_is_406_in_words() -> None:
    with serve("healthy") as server:
        report, r = probe(server.url("/mcp"), "-H", "Accept: application/json")
    assert codes(report) == {"mcp-initialize-failed"}
    assert "406 Not Acceptable" in report["findings"][0]["detail"]


def test_the_old_http_sse_transport_is_found_and_driven() -> None:
    with serve("legacy") as server:
        report, r = probe(server.url("/sse"))
    assert r.returncode == 0  # a warning: the session worked over the old transport
    assert codes(report) == {"mcp-legacy-transport"}
    m = report["profile"]["metrics"]
    assert m["transport"] == "http+sse" and m["tools"] == 2
    assert "session_id=" not in json.dumps(report).replace("session_id=[REDACTED]", "")


def test_resume_with_the_sdk_event_store_replays_exactly() -> None:
    from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS

    if "2025-11-25" not in SUPPORTED_PROTOCOL_VERSIONS:
        pytest.skip("this mcp release has no priming events (2025-11-25) to resume from")
    with serve("resumable") as server:
        report, r = probe(server.url("/mcp"), "--mcp-version", "2025-11-25")
    assert r.returncode == 0, report["findings"]
    assert steps(report)["resume"] == 200
    assert report["profile"]["metrics"]["resume"] == "ok"
    assert report["profile"]["metrics"]["protocol_version"] == "2025-11-25"


def test_the_plain_probe_of_an_sdk_server_points_to_the_mcp_profile() -> None:
    with serve("healthy") as server:
        r = cli("probe", server.url("/mcp"), *WINDOW, "--json", "-")
    report = json.loads(r.stdout)
    hints = [f for f in report["findings"] if f["code"] == "profile-hint"]
    assert len(hints) == 1 and hints[0]["evidence"]["profile"] == "mcp"
    assert "--profile mcp" in hints[0]["detail"]
    # The throwaway session id on that error response is shown shortened too.
    shown = report["connection"]["headers"].get("mcp-session-id")
    assert shown is None or (shown.endswith("…") and not FULL_SESSION_ID.search(r.stdout))


@pytest.mark.parametrize("kind, path, also", [
    ("healthy", "/mcp", set()),
    ("legacy", "/sse", {"mcp-legacy-transport"}),
])
def test_an_idle_server_stream_is_no_heartbeat_as_for_any_stream(kind: str, path: str,
                                                                 also: set[str]) -> None:
    # The SDK sends its first keepalive comment after 15 s: a shorter idle limit sees the
    # silence a proxy with a short idle timeout would cut.
    with serve(kind) as server:
        report, _ = probe(server.url(path), "--idle-limit", "0.5")
    assert codes(report) == {"no-heartbeat"} | also


def test_mcp_version_is_offered_and_the_servers_choice_is_used() -> None:
    from mcp.types import LATEST_PROTOCOL_VERSION

    with serve("healthy") as server:
        older, r1 = probe(server.url("/mcp"), "--mcp-version", "2025-03-26")
        unknown, r2 = probe(server.url("/mcp"), "--mcp-version", "2024-01-01")
    assert r1.returncode == 0 and older["profile"]["metrics"]["protocol_version"] == "2025-03-26"
    # An unknown revision: the server answers with one it speaks, and the session uses it.
    assert r2.returncode == 0, unknown["findings"]
    m = unknown["profile"]["metrics"]
    assert m["protocol_version_offered"] == "2024-01-01"
    assert m["protocol_version"] == LATEST_PROTOCOL_VERSION
    assert "(offered 2024-01-01)" in unknown["profile"]["steps"][0]["detail"]
