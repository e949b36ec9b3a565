"""Browser captures (HAR 1.2, as browsers' DevTools and Playwright save them): the stream
requests a page made, grouped by URL, for the client checks (checks/client_checks.py).

A HAR is JSON: ``log.entries[]`` with ``startedDateTime`` (ISO 8601), ``time`` (total ms,
so the request ended at start + time; still open when the capture was saved if ``time`` is
negative, or for an EventSource ``timings.receive``), ``request.url``,
``request.headers``, ``response.status``, ``response.content.mimeType`` and, from Chrome,
``_resourceType`` and ``pageref``.
The standard library's json reads it; nothing here needs more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.errors import UsageError

MAX_HAR_BYTES = 512 * 1024 * 1024  # a larger file is refused rather than read into memory


@dataclass(frozen=True)
class StreamRequest:
    """One SSE or WebSocket request of the capture; times in ms from the capture's first
    stream request."""

    start_ms: float
    end_ms: float | None  # None: still open when the capture was saved
    page: str  # the HAR pageref ("" when the capture has none)
    status: int | None


@dataclass
class HarObservation:
    """The stream requests to one URL in one capture."""

    path: str  # the HAR file (for the proxy: what it listened on and forwarded to)
    url: str
    kind: str  # "sse" | "ws"
    requests: list[StreamRequest] = field(default_factory=list)
    group: str = "page"  # what StreamRequest.page names: a HAR page, or the proxy's client
    source: str = "file"  # what `path` is, for people

    def __repr__(self) -> str:
        return f"HarObservation(url={self.url!r}, requests={len(self.requests)})"


# --- reading ---------------------------------------------------------------------------------
def load(path: str) -> dict[str, Any]:
    """The parsed HAR file; UsageError (exit 2, one line) when it cannot be read as one."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_HAR_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read HAR file {path!r}: {exc.strerror or exc}") from None
    if len(raw) > MAX_HAR_BYTES:
        raise UsageError(f"HAR file {path!r} is larger than {MAX_HAR_BYTES >> 20} MiB")
    try:
        har = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path!r} is not a HAR file: invalid JSON ({exc})") from None
    log = har.get("log") if isinstance(har, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise UsageError(f"{path!r} is not a HAR file: no log.entries list")
    return har


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def headers_of(msg: Any) -> list[tuple[str, str]]:
    """A HAR request's or response's headers as (name, value); anything malformed skipped."""
    headers = msg.get("headers") if isinstance(msg, dict) else None
    if not isinstance(headers, list):
        return []
    return [(h["name"], str(h.get("value", ""))) for h in headers
            if isinstance(h, dict) and isinstance(h.get("name"), str)]


def _headers(msg: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers_of(msg)}


def stream_kind(entry: dict[str, Any]) -> str | None:
    """"sse", "ws" or None (not a stream request)."""
    request, response = _obj(entry.get("request")), _obj(entry.get("response"))
    rtype = str(entry.get("_resourceType", "")).lower()
    url = str(request.get("url", ""))
    if rtype == "websocket" or url.startswith(("ws://", "wss://")) \
            or response.get("status") == 101 \
            or _headers(request).get("upgrade", "").lower() == "websocket":
        return "ws"
    mime = str(_obj(response.get("content")).get("mimeType", "")).lower()
    if rtype == "eventsource" or mime.startswith("text/event-stream") \
            or "text/event-stream" in _headers(request).get("accept", "").lower():
        return "sse"
    return None


def _started(entry: dict[str, Any], i: int) -> datetime:
    value = entry.get("startedDateTime")
    try:
        # Python 3.10's fromisoformat does not take a trailing "Z".
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"HAR entry {i}: startedDateTime {value!r} is not ISO 8601") from None
    if t.tzinfo is None:
        raise UsageError(f"HAR entry {i}: startedDateTime {value!r} has no time zone")
    return t


def _number(x: Any) -> float | None:
    if isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) < float("inf"):
        return float(x)
    return None


def _duration(entry: dict[str, Any], kind: str) -> float | None:
    """How long the request lasted, or None while it was still open when the capture was
    saved: `time` negative, or, for an EventSource, `timings.receive` negative (the body had
    not ended; `time` then covers only the wait for the response head, as Chromium records
    it). A WebSocket's `time` is its whole life and its timings are all -1."""
    total = _number(entry.get("time"))
    if total is None or total < 0:
        return None
    receive = _number(_obj(entry.get("timings")).get("receive"))
    if kind == "sse" and receive is not None and receive < 0:
        return None
    return total


def observations(har: dict[str, Any], path: str) -> list[HarObservation]:
    """One observation per stream URL, in order of first request."""
    found: list[tuple[datetime, float | None, str, str, str, int | None]] = []
    for i, entry in enumerate(har["log"]["entries"]):
        if not isinstance(entry, dict):
            raise UsageError(f"HAR entry {i} is not an object")
        kind = stream_kind(entry)
        if kind is None:
            continue
        url = _obj(entry.get("request")).get("url")
        if not isinstance(url, str) or not url:
            raise UsageError(f"HAR entry {i} has no request.url")
        started = _started(entry, i)
        duration = _duration(entry, kind)
        status = _obj(entry.get("response")).get("status")
        found.append((started, duration, url, kind, str(entry.get("pageref") or ""),
                      status if isinstance(status, int) and status > 0 else None))
    if not found:
        return []
    origin = min(f[0] for f in found)
    by_url: dict[str, HarObservation] = {}
    for started, duration, url, kind, page, status in sorted(found, key=lambda f: f[0]):
        start = (started - origin).total_seconds() * 1000
        end = None if duration is None else start + duration
        obs = by_url.setdefault(url, HarObservation(path, url, kind))
        obs.requests.append(StreamRequest(start, end, page, status))
    return list(by_url.values())
