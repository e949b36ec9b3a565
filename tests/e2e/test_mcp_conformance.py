"""A second opinion: the official MCP conformance suite (`@modelcontextprotocol/conformance`
0.1.16, npm) on the scenarios the walk covers, against the SDK 2.3 server with DNS-rebinding
protection on, beside the profile's own verdict on the same server.

The suite asks for Node >= 22 (on Node 20 it does not start: `fs.globSync` is missing), so
.ci/run installs Node 22 from npm (`node@22`) next to it in the cache; it knows only the 2025
revisions, so it is asked about those."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support import start_cli_together
from tests.support.mcp_node import MODULES, NODE_DIR
from tests.support.mcp_servers import serve

NODE22 = MODULES / "node" / "bin" / "node"
SUITE = MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
if not NODE22.exists() or not SUITE.exists():
    pytest.skip(f"the conformance suite and Node 22 are not installed under {NODE_DIR} "
                "(.ci/run: npm install node@22 @modelcontextprotocol/conformance)",
                allow_module_level=True)

# The suite's scenarios that the walk covers, and the profile's view of the same thing.
SCENARIOS = ("server-initialize", "ping", "tools-list", "server-sse-multiple-streams",
             "dns-rebinding-protection")


def conformance(url: str, scenario: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(NODE22), str(SUITE), "server", "--url", url, "--scenario",
                             scenario], cwd=NODE_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_the_conformance_suite_and_the_profile_agree_on_the_sdk_server() -> None:
    with serve("guarded") as server:
        url = server.url("/mcp")
        suite = {s: conformance(url, s) for s in SCENARIOS}
        runs = start_cli_together({
            "2025": ("probe", url, "--profile", "mcp", "--duration", "1.5",
                     "--mcp-version", "2025-11-25", "--json", "-"),
            "auto": ("probe", url, "--profile", "mcp", "--duration", "1.5", "--json", "-"),
            "evil-host": ("probe", url, "--profile", "mcp", "--duration", "1.5",
                          "-H", "Host: evil.example.com", "--json", "-"),
        })
        reports: dict[str, tuple[dict[str, Any], int]] = {}
        for name, run in runs.items():
            out, _ = run.communicate(timeout=60)
            reports[name] = (json.loads(out), run.returncode)
        results = {s: (p.communicate(timeout=120)[0], p.returncode) for s, p in suite.items()}
    for scenario, (out, rc) in results.items():
        assert rc == 0 and "0 failed" in out, (scenario, out[-2000:])
    for name in ("2025", "auto"):
        report, rc = reports[name]
        assert rc == 0 and report["findings"] == [], (name, report["findings"])
    # dns-rebinding-protection: the suite sees the foreign Host refused (421); so does the
    # profile, in words.
    report, rc = reports["evil-host"]
    assert rc == 1 and {f["code"] for f in report["findings"]} == {"mcp-host-rejected"}
    assert "421" in report["findings"][0]["detail"]
