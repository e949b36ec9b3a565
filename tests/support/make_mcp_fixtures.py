"""Record the official mcp SDK server's answers to the requests the MCP profile sends, as
fixtures for the unit tests of the sans-I/O session (fixtures/mcp/*.json).

    .venv/bin/python -m tests.support.make_mcp_fixtures
"""

from __future__ import annotations

import json
import pathlib

import httpx

from sse_doctor.profiles.mcp import messages as rpc
from tests.support.mcp_servers import serve

OUT = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "mcp"
POST = {"Accept": rpc.ACCEPT_POST, "Content-Type": "application/json"}


def save(name: str, r: httpx.Response) -> None:
    keep = {"content-type", "mcp-session-id", "cache-control"}
    doc = {"status": r.status_code,
           "headers": [[k, v] for k, v in r.headers.multi_items() if k in keep],
           "body": r.text}
    (OUT / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")


def session(base: str, client: httpx.Client, prefix: str) -> None:
    init = client.post(base, content=rpc.initialize(1, "2025-06-18"), headers=POST)
    save(f"{prefix}-initialize", init)
    sid = init.headers.get("mcp-session-id")
    more = {**POST, "MCP-Protocol-Version": "2025-06-18"}
    if sid:
        more["Mcp-Session-Id"] = sid
    save(f"{prefix}-initialized",
         client.post(base, content=rpc.notification("notifications/initialized"), headers=more))
    save(f"{prefix}-tools-list", client.post(base, content=rpc.request(2, "tools/list", {}),
                                             headers=more))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=10) as client:
        with serve("healthy") as s:
            base = s.url("/mcp")
            session(base, client, "sdk-sse")
            save("sdk-no-session", client.post(base, content=rpc.request(2, "tools/list", {}),
                                               headers=POST))
            save("sdk-unknown-session", client.post(
                base, content=rpc.request(2, "tools/list", {}),
                headers={**POST, "Mcp-Session-Id": "0" * 32}))
            save("sdk-accept-json-only", client.post(
                base, content=rpc.initialize(1, "2025-06-18"),
                headers={**POST, "Accept": "application/json"}))
        with serve("json") as s:
            session(s.url("/mcp"), client, "sdk-json")
        with serve("guarded") as s:
            save("sdk-bad-host", client.post(s.url("/mcp"),
                                             content=rpc.initialize(1, "2025-06-18"),
                                             headers={**POST, "Host": "mcp.example.com"}))
        with serve("legacy") as s:
            save("sdk-legacy-post", client.post(s.url("/sse"),
                                                content=rpc.initialize(1, "2025-06-18"),
                                                headers=POST))
            with client.stream("GET", s.url("/sse"),
                               headers={"Accept": "text/event-stream"}) as r:
                first = next(r.iter_text())
            (OUT / "sdk-legacy-stream.txt").write_text(first)


if __name__ == "__main__":
    main()
