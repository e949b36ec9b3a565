"""`--har-out`: the stream requests the proxy saw as HAR 1.2, in the shape Chromium saves
(`_resourceType`, an EventSource still open has `timings.receive` -1, a WebSocket's `time` is
its life), so that `sse-doctor har` reads it back to the same findings. Each client is a HAR
page. Every credential is redacted: the file is meant to be shared."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sse_doctor.proxy.records import StreamRecord
from sse_doctor.redact import Redactor
from sse_doctor.version import __version__


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def _headers(headers: list[tuple[str, str]], red: Redactor) -> list[dict[str, str]]:
    return [{"name": n, "value": red.header(n, v)} for n, v in headers]


def _entry(rec: StreamRecord, red: Redactor) -> dict[str, Any]:
    url = rec.url
    if rec.kind == "ws":  # as a browser records a WebSocket
        url = "ws" + url[4:] if url.startswith("http") else url
    url = red.url(url)
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    wait = -1.0 if rec.response_t is None else max(0.0, (rec.response_t - rec.start) * 1000)
    if rec.kind == "ws":
        total = -1.0 if rec.end is None else (rec.end - rec.start) * 1000
        timings = {"blocked": -1, "dns": -1, "connect": -1, "send": -1, "wait": -1,
                   "receive": -1, "ssl": -1}
    else:
        if rec.end is None:  # still open: `time` is the wait for the head (Chromium does so)
            total, receive = max(wait, 0.0), -1.0
        else:
            total = (rec.end - rec.start) * 1000
            receive = max(0.0, total - max(wait, 0.0))
        timings = {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": wait,
                   "receive": receive, "ssl": -1}
    entry: dict[str, Any] = {
        "pageref": rec.client,
        "startedDateTime": _iso(rec.start),
        "time": round(total, 3),
        "request": {
            "method": rec.method, "url": url, "httpVersion": rec.http_version,
            "cookies": [], "headers": _headers(rec.request_headers, red),
            "queryString": [{"name": k, "value": v}
                            for k, v in parse_qsl(query, keep_blank_values=True)],
            "headersSize": -1, "bodySize": -1,
        },
        "response": {
            "status": rec.status or 0, "statusText": "", "httpVersion": rec.http_version,
            "cookies": [], "headers": _headers(rec.response_headers, red),
            "content": {"size": -1, "mimeType": rec.mime or
                        ("text/event-stream" if rec.kind == "sse" else "")},
            "redirectURL": "", "headersSize": -1, "bodySize": -1,
        },
        "cache": {},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "_resourceType": "eventsource" if rec.kind == "sse" else "websocket",
    }
    if rec.note:
        entry["comment"] = red.text(rec.note)
    return entry


def to_har(records: list[StreamRecord], red: Redactor) -> dict[str, Any]:
    records = sorted(records, key=lambda r: r.start)
    pages: dict[str, float] = {}
    for rec in records:
        pages.setdefault(rec.client, rec.start)
    return {"log": {
        "version": "1.2",
        "creator": {"name": "sse-doctor proxy", "version": __version__},
        "pages": [{"id": client, "startedDateTime": _iso(t), "title": f"client {client}",
                   "pageTimings": {}} for client, t in pages.items()],
        "entries": [_entry(r, red) for r in records],
    }}
