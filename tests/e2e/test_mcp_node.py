"""probe --profile mcp against the official TypeScript servers (npm, installed by .ci/run into
the cache): `@modelcontextprotocol/server-everything` and a stateful server of
`@modelcontextprotocol/sdk`. Both speak only the 2025 handshake (their discover is a 400
without a modern error): `--mcp-version auto` must fall back to it cleanly and be healthy."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import free_port, start_cli_together, wait_listening
from tests.support.mcp_node import EVERYTHING, MODULES, NODE_DIR, TS_SDK

ROOT = pathlib.Path(__file__).resolve().parents[2]

if shutil.which("node") is None:
    pytest.skip("node is not installed", allow_module_level=True)
if not EVERYTHING.exists() or not TS_SDK.exists():
    pytest.skip(f"the npm MCP servers are not installed under {NODE_DIR} (.ci/run installs "
                "them: npm install @modelcontextprotocol/sdk "
                "@modelcontextprotocol/server-everything)", allow_module_level=True)


def _start(argv: list[str], env: dict[str, str], port: int, what: str) -> subprocess.Popen:
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=NODE_DIR)
    wait_listening(port, proc, what)
    return proc


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    procs: list[subprocess.Popen] = []
    try:
        p1, p2 = free_port(), free_port()
        procs.append(_start(["node", str(EVERYTHING), "streamableHttp"], {"PORT": str(p1)},
                            p1, "server-everything"))
        procs.append(_start(["node", str(ROOT / "fixtures" / "mcp" / "ts_server.mjs"),
                             str(p2)], {"MCP_NODE_MODULES": str(MODULES)}, p2,
                            "the TypeScript SDK server"))
        yield {"everything": f"http://127.0.0.1:{p1}/mcp", "ts": f"http://127.0.0.1:{p2}/mcp"}
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(scope="module")
def runs(servers: dict[str, str]) -> dict[str, tuple[dict[str, Any], int]]:
    mcp = ("--profile", "mcp", "--duration", "1.5", "--json", "-")
    started = start_cli_together({
        "everything": ("probe", servers["everything"], *mcp),
        "ts": ("probe", servers["ts"], *mcp),
        "ts-call": ("probe", servers["ts"], *mcp, "--call", "add", "--args", '{"a":1,"b":2}'),
        "ts-2026": ("probe", servers["ts"], *mcp, "--mcp-version", "2026-07-28"),
    })
    out = {}
    for name, run in started.items():
        stdout, stderr = run.communicate(timeout=120)
        assert stderr == "", (name, stderr)
        out[name] = (json.loads(stdout), run.returncode)
    return out


def steps(report: dict[str, Any]) -> dict[str, Any]:
    return {s["step"]: s["status"] for s in report["profile"]["steps"]}


def test_server_everything_refuses_discover_and_auto_falls_back_to_its_session(runs) -> None:
    report, rc = runs["everything"]
    assert rc == 0 and report["findings"] == [], report["profile"]["steps"]
    m = report["profile"]["metrics"]
    assert m["revision"] == "2025-11-25" and m["server"].startswith("mcp-servers/everything")
    assert m["negotiation"].startswith("discover 2026-07-28: 400 error -32000")
    assert m["negotiation"].endswith("initialize 2025-11-25: 2025-11-25")
    assert steps(report)["server/discover"] == 400 and steps(report)["tools/list"] == 200
    assert m["tools"] > 5 and m["terminate"] == "ok"


def test_the_typescript_sdk_server_is_healthy_and_serves_the_call(runs) -> None:
    report, rc = runs["ts"]
    assert rc == 0 and report["findings"] == []
    assert report["profile"]["metrics"]["server"] == "ts-sdk-demo 1.0.0"
    called, rc_call = runs["ts-call"]
    assert rc_call == 0 and called["profile"]["metrics"]["call"] == "ok"
    assert steps(called)["tools/call add"] == 200


def test_asking_a_2025_server_for_2026_07_28_is_said_not_hidden(runs) -> None:
    report, rc = runs["ts-2026"]
    assert rc == 1 and {f["code"] for f in report["findings"]} == {"mcp-revision-unsupported"}
    detail = report["findings"][0]["detail"]
    assert "--mcp-version 2026-07-28" in detail and "2025-11-25" in detail
    assert report["profile"]["metrics"]["revision"] == "2025-11-25"  # walked what it speaks
