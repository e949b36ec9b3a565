"""Writes fixtures/har/*.har: HAR 1.2 captures in the shape Chrome's DevTools exports
(pageref, _resourceType, startedDateTime, time, timings), each modelling one client
behaviour from the design's incident list. Run `python -m tests.support.make_har_fixtures` to
rebuild them; the output is deterministic."""

from __future__ import annotations

import json
import pathlib
from datetime import datetime, timedelta, timezone

OUT = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "har"
T0 = datetime(2026, 11, 20, 14, 3, 0, tzinfo=timezone.utc)
ORIGIN = "https://app.example.com"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXNlc3Npb24.sig"  # must never appear in reports


def entry(url: str, start_s: float, time_ms: float, *, page: str = "page_1",
          kind: str = "eventsource", status: int = 200, mime: str = "text/event-stream",
          auth: bool = False) -> dict:
    headers = [{"name": "Accept", "value": "text/event-stream"}] if kind == "eventsource" \
        else [{"name": "Upgrade", "value": "websocket"}] if kind == "websocket" else []
    if auth:
        headers.append({"name": "Authorization", "value": f"Bearer {TOKEN}"})
    return {
        "pageref": page,
        "_resourceType": kind,
        "startedDateTime": (T0 + timedelta(seconds=start_s)).isoformat().replace("+00:00", "Z"),
        # A stream still open when the capture was saved: Chromium's `time` then covers only
        # the wait for the response head, and `timings.receive` is -1. (A WebSocket's `time`
        # is its life: -1 while it lives.)
        "time": time_ms if time_ms >= 0 else -1 if kind == "websocket" else 10.6,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": headers,
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                     "headers": [], "cookies": [], "content": {"size": 0, "mimeType": mime},
                     "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {},
        # receive -1: the body had not ended when the capture was saved.
        "timings": {"blocked": 0.5, "dns": -1, "connect": -1, "send": 0.1, "wait": 10,
                    "receive": time_ms - 10.6 if time_ms >= 0 else -1, "ssl": -1},
    }


def page_assets(page: str = "page_1", at: float = 0.0) -> list[dict]:
    return [
        entry(f"{ORIGIN}/", at, 35, page=page, kind="document", mime="text/html"),
        entry(f"{ORIGIN}/app.js", at + 0.05, 20, page=page, kind="script",
              mime="text/javascript"),
    ]


def har(entries: list[dict], pages: list[str] = ("page_1",)) -> dict:
    return {"log": {
        "version": "1.2",
        "creator": {"name": "WebInspector", "version": "537.36"},
        "pages": [{"startedDateTime": T0.isoformat().replace("+00:00", "Z"), "id": p,
                   "title": f"{ORIGIN}/", "pageTimings": {}} for p in pages],
        "entries": sorted(entries, key=lambda e: e["startedDateTime"]),
    }}


def healthy() -> dict:
    # One EventSource for the whole capture; the server ended it once at 40 s and the
    # browser came back after the stream's 3 s retry. The second is still open (time_ms -1).
    url = f"{ORIGIN}/api/events?token={TOKEN}"
    return har(page_assets() + [entry(url, 0.2, 39_800, auth=True),
                                entry(url, 43.0, -1, auth=True)])


def leaky_tab() -> dict:
    # A React effect that opens a new EventSource on every render and never closes the old
    # one: 150 streams in 45 s, all still open when the capture was saved.
    url = f"{ORIGIN}/api/notifications/stream"
    return har(page_assets() + [entry(url, 0.3 + 0.3 * i, -1) for i in range(150)])


def no_backoff() -> dict:
    # The server closes each stream after 40 ms (an auth check failing mid-stream) and the
    # client reconnects 100 ms later, every time: 25 streams in 3.5 s.
    url = f"{ORIGIN}/api/jobs/42/events"
    out = page_assets()
    t = 0.3
    for _ in range(25):
        out.append(entry(url, t, 40))
        t += 0.14
    return har(out)


def storm() -> dict:
    # Three tabs of the same app, each reconnecting every 2.5 s after a 200 ms stream:
    # each tab backs off politely, the URL still gets 72 requests a minute.
    url = f"{ORIGIN}/api/feed"
    out = []
    pages = ["page_1", "page_2", "page_3"]
    for k, page in enumerate(pages):
        out += page_assets(page, at=k * 0.8)
        for i in range(24):
            out.append(entry(url, 1 + k * 0.8 + i * 2.7, 200, page=page))
    return har(out, pages)


def websocket_duplicates() -> dict:
    # A chat widget mounted twice: two WebSockets to the same URL from one page.
    url = "wss://app.example.com/ws/chat"
    return har(page_assets() + [entry(url, 0.4, -1, kind="websocket", status=101, mime="x-unknown"),
                                entry(url, 0.45, -1, kind="websocket", status=101,
                                      mime="x-unknown")])


FIXTURES = {"healthy": healthy, "leaky-tab": leaky_tab, "no-backoff": no_backoff,
            "storm": storm, "websocket-duplicates": websocket_duplicates}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in FIXTURES.items():
        (OUT / f"{name}.har").write_text(json.dumps(make(), indent=1) + "\n")
        print(f"wrote {OUT / name}.har")
