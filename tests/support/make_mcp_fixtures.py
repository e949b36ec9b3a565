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
    keep = {"content-type", "mcp-session-id", "cache-control", "allow"}
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


def modern(base: str, client: httpx.Client, prefix: str) -> None:
    """Revision 2026-07-28: the answers to what the profile sends, and to what it must not."""
    def post(method: str, params: dict | None = None, version: str = "2026-07-28",
             **header: str) -> httpx.Response:
        body, headers = rpc.modern_request(7, method, version, params)
        return client.post(base, content=body, headers={**dict(headers), **header})

    save(f"{prefix}-discover", post("server/discover"))
    save(f"{prefix}-tools-list", post("tools/list"))
    save(f"{prefix}-call", post("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}))
    save(f"{prefix}-unsupported", post("server/discover", version="2099-01-01"))
    save(f"{prefix}-header-mismatch", post("server/discover", **{"Mcp-Method": "tools/list"}))
    body, headers = rpc.modern_request(7, "subscriptions/listen", "2026-07-28",
                                       {"notifications": {"toolsListChanged": True}})
    with client.stream("POST", base, content=body, headers=dict(headers)) as r:
        first = next(r.iter_text())
        doc = {"status": r.status_code, "headers": [[k, v] for k, v in r.headers.multi_items()
                                                    if k == "content-type"], "body": first}
    (OUT / f"{prefix}-listen.json").write_text(json.dumps(doc, indent=2) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=10) as client:
        with serve("dual") as s:
            modern(s.url("/mcp"), client, "sdk2")
        with serve("modern") as s:
            save("sdk2-modern-only-initialize", client.post(
                s.url("/mcp"), content=rpc.initialize(1, "2025-11-25"), headers=POST))
            save("sdk2-modern-only-get", client.get(s.url("/mcp"),
                                                    headers={"Accept": "text/event-stream"}))
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
