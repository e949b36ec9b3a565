"""What sse-doctor says about each framework's *defaults*: the matrix's servers with their
intervals put back to what the framework does out of the box, one data event and then
nothing but what the framework sends by itself, probed for 35 s with sse-doctor's default
options (idle limit 30 s), all at once from the matrix's warmed fork server. Not a test (it
takes about a minute); docs/frameworks.md's last column comes from it:

    .venv/bin/python -m tests.support.framework_defaults [--json FILE]

All probes run at once; it prints one line per framework: codes, keep-alive gaps, headers."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from tests.support import start_cli_together
from tests.support.framework_servers import SERVERS, Case, running, warm_up

WINDOW = ("--duration", "35")
NEVER = "600000"  # an interval longer than the window: the framework sends nothing of its own
HELLO = ("--send", "hello")
IDLE = ("--profile", "graphql", "--query", "subscription { idle }")

# (server, path, probe args, environment that puts the framework's defaults back)
DEFAULTS: list[tuple[str, str, tuple[str, ...], dict[str, str]]] = [
    ("node-http", "/healthy", (), {"TICK_MS": NEVER, "HEARTBEAT_MS": NEVER}),
    ("express", "/healthy", (), {"TICK_MS": NEVER, "HEARTBEAT_MS": NEVER}),
    ("hono", "/healthy", (), {"TICK_MS": NEVER}),
    ("hono", "ws:/ws", HELLO, {}),
    ("better-sse", "/healthy", (), {"TICK_MS": NEVER, "KEEPALIVE_MS": "10000"}),
    ("fastify", "/healthy", (), {"TICK_MS": NEVER, "HEARTBEAT_MS": "30000"}),
    ("ws", "ws:/no-heartbeat", HELLO, {}),
    ("socket.io", "/socket.io/", (), {"PING_MS": "25000"}),
    ("graphql-yoga", "/graphql", IDLE, {}),
    ("graphql-ws", "ws:/graphql", IDLE, {}),
    ("sse-starlette", "/healthy", (), {"TICK_S": "600", "PING_S": "15"}),
    ("fastapi", "/healthy", (), {"TICK_S": "600"}),
    ("starlette", "ws:/ws", HELLO, {"PING_S": "20"}),
    ("django", "/healthy", (), {"TICK_S": "600", "HEARTBEAT_S": "600"}),
    ("django", "ws:/ws", HELLO, {"PING_S": "20"}),
    ("flask-gunicorn", "/healthy", (), {"TICK_S": "600", "HEARTBEAT_S": "600"}),
    ("flask-waitress", "/healthy", (), {"TICK_S": "600", "HEARTBEAT_S": "600"}),
    ("quart", "/healthy", (), {"TICK_S": "600", "HEARTBEAT_S": "600",
                               "RESPONSE_TIMEOUT_S": "60"}),
    ("quart", "/response-timeout", ("--duration", "65"),
     {"TICK_S": "10", "HEARTBEAT_S": "10", "RESPONSE_TIMEOUT_S": "60"}),
    ("aiohttp", "/healthy", (), {"TICK_S": "600", "PING_S": "15"}),
    ("aiohttp", "ws:/ws-no-heartbeat", HELLO, {}),
    ("python-socketio", "/socket.io/", (), {"PING_S": "25"}),
    ("strawberry", "ws:/graphql", IDLE, {}),
]


def summary(report: dict[str, Any]) -> dict[str, Any]:
    conn = report.get("connection") or {}
    headers = {k.lower(): v for k, v in (conn.get("headers") or {}).items()}
    times = sorted([c["t_ms"] for c in report.get("comments", [])]
                   + [e["t_ms"] for e in report.get("events", [])]
                   + [m["t_ms"] for m in report.get("messages", []) if m["dir"] == "in"])
    gaps = [round((b - a) / 1000, 1) for a, b in zip(times, times[1:])]
    events = report.get("events", [])
    return {
        "verdict": report["verdict"],
        "codes": [f"{f['code']} ({f['severity']})" for f in report["findings"]],
        "details": {f["code"]: f["detail"] for f in report["findings"]},
        "gaps_s": gaps[:12],
        "cache-control": headers.get("cache-control"),
        "content-encoding": headers.get("content-encoding"),
        "x-accel-buffering": headers.get("x-accel-buffering"),
        "ids": [e["id"] for e in events[:2]],
        "retry": events[0]["retry"] if events else None,
        "comments": [c["text"] for c in report.get("comments", [])[:2]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the summaries there too")
    parser.add_argument("--only", action="append", help="only this server (repeatable)")
    args = parser.parse_args()
    rows = [r for r in DEFAULTS if not args.only or r[0] in args.only]
    by_name = {s.name: s for s in SERVERS}
    servers = []
    for i, (name, _, _, env) in enumerate(rows):
        # one server per row: each row puts its own defaults back
        servers.append(dataclasses.replace(by_name[name], name=f"{name}#{i}", env=env))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as logs, running(servers, Path(logs)) as fleet:
        up = fleet.up([s.name for s in servers], max(s.start_s for s in servers))
        plan = {}
        cases = []
        for i, (name, path, extra, _) in enumerate(rows):
            key = f"{name}#{i}"
            if key not in up:
                out[f"{name} {path}"] = {"error": "did not start"}
                continue
            window = () if "--duration" in extra else WINDOW
            case = Case(key, "defaults", path, args=(*window, *extra))
            cases.append(case)
            plan[f"{name} {path}"] = case.argv(up[key].port)
        warm_up(up, cases)  # as the matrix does: no server's first request inside a window
        for label, proc in start_cli_together(plan).items():
            stdout, _ = proc.communicate(timeout=120)
            out[label] = summary(json.loads(stdout)) if stdout.strip() else {"error": "no JSON"}
    for label, row in out.items():
        print(label, json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
