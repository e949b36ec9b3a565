"""Record the GraphQL and Socket.IO fixtures (fixtures/graphql, fixtures/socketio) from the
real servers: what python-socketio and strawberry sent to `probe --profile ...`, message by
message with its time. Run: python -m tests.support.make_protocol_fixtures"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

from tests.support.real_servers import Served, graphql_app, socketio_app

ROOT = pathlib.Path(__file__).resolve().parents[2] / "fixtures"


def _probe(url: str, *args: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "sse_doctor", "probe", url, "--json", "-", *args],
                       capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout)


def _save(path: pathlib.Path, report: dict[str, Any], args: list[str]) -> None:
    frames = [[m["t_ms"], m["type"], m["text"]] for m in report["messages"]
              if m["dir"] == "in" and m["type"] in ("text", "binary")]
    doc = {"args": args, "subprotocol": report.get("connection", {}).get("subprotocol"),
           "in": frames, "metrics": report["profile"]["metrics"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", path)


def main() -> None:
    sio = Served(socketio_app(ping_interval=1, ping_timeout=0.5)).start()
    try:
        args = ["--duration", "2.5", "--transport", "websocket", "--send",
                'subscribe {"room":"orders"}']
        _save(ROOT / "socketio" / "python-socketio-websocket.json",
              _probe(sio.url("/socket.io/", "ws"), *args), args)
    finally:
        sio.stop()
    from strawberry.subscriptions import GRAPHQL_WS_PROTOCOL

    for name, app in (("strawberry-transport-ws", graphql_app()),
                      ("strawberry-legacy-ws", graphql_app(
                          subscription_protocols=(GRAPHQL_WS_PROTOCOL,), keep_alive=True,
                          keep_alive_interval=0.2))):
        srv = Served(app).start()
        try:
            for op, query in (("count", "subscription { count(to: 3) }"),
                              ("boom", "subscription { boom }")):
                args = ["--profile", "graphql", "--query", query, "--duration", "2"]
                _save(ROOT / "graphql" / f"{name}-{op}.json",
                      _probe(srv.url("/graphql", "ws"), *args), args)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
