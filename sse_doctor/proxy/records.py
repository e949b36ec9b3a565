"""The counting proxy's records: stream requests in (start, response, end, with times), per
client and URL path out, as the observations `har` reads. Judging them is `proxy.streams`'
job (the client checks); this module only keeps them, so the engine (`proxy.run`) that
feeds it stays below the checks.

No I/O and only the standard library (plus sse_doctor's own stdlib-only modules): the
mitmproxy addon loads this inside mitmproxy's own environment, and `sse-doctor proxy` runs it
on the events the addon streams back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.har import HarObservation, StreamRequest
from sse_doctor.redact import MASK, SENSITIVE_HEADERS, is_secret_param

MAX_RECORDS = 100_000  # stream requests kept; past it the oldest ended ones are dropped
CLIENT_KEY_KINDS = ("ip", "header", "cookie", "query")


# Secret-looking query parameters inside free text (a request line quoted by mitmproxy's log):
# the redactor masks secrets it was told about; these it never saw in a stream request.
_PARAM_IN_TEXT = re.compile(
    r"([?&;][^=&\s'\"]*(?:token|key|secret|passw|sig|auth|session)[^=&\s'\"]*=)[^&\s'\"]*",
    re.IGNORECASE)


def mask_secret_params(text: str) -> str:
    return _PARAM_IN_TEXT.sub(lambda m: m.group(1) + MASK, text)


# --- classifying requests -------------------------------------------------------------------
def parse_client_key(spec: str) -> tuple[str, str]:
    """`ip`, `header:NAME`, `cookie:NAME` or `query:NAME` -> (kind, name); ValueError else."""
    kind, _, name = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "ip" and not name:
        return "ip", ""
    if kind in CLIENT_KEY_KINDS[1:] and name.strip():
        return kind, name.strip()
    raise ValueError(f"--client-key {spec!r}: use ip, header:NAME, cookie:NAME or query:NAME")


def client_label(kind: str, name: str, value: str | None) -> str:
    """How a client is named in every output. A cookie, a credential header or a secret-looking
    query parameter is a credential: only a short digest of it is shown, enough to tell
    clients apart."""
    if kind == "ip":
        return value or "?"
    if value is None or value == "":
        return f"{name}=(none)"
    secret = kind == "cookie" or (kind == "header" and name.lower() in SENSITIVE_HEADERS) \
        or (kind == "query" and is_secret_param(name))
    if secret:
        return f"{name}=#{hashlib.sha256(value.encode()).hexdigest()[:8]}"
    return f"{name}={value[:80]}"


def stream_kind(method: str, headers: list[tuple[str, str]],
                response_type: str | None = None) -> str | None:
    """"ws" for a WebSocket upgrade, "sse" for a request that asks for (or a response that is)
    text/event-stream, else None."""
    lower = {n.lower(): v.lower() for n, v in headers}
    if "websocket" in lower.get("upgrade", ""):
        return "ws"
    if "text/event-stream" in lower.get("accept", ""):
        return "sse"
    if response_type is not None and response_type.lower().startswith("text/event-stream"):
        return "sse"
    return None


# --- the records ----------------------------------------------------------------------------
@dataclass
class StreamRecord:
    """One stream request that passed through; times in seconds since the epoch."""

    id: str
    client: str
    path: str
    kind: str  # "sse" | "ws"
    method: str
    url: str  # as forwarded upstream
    start: float
    http_version: str = "HTTP/1.1"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    status: int | None = None
    response_t: float | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    end: float | None = None  # None: still open
    note: str = ""  # why it ended, when not cleanly (client gone, upstream refused...)

    @property
    def mime(self) -> str:
        for n, v in self.response_headers:
            if n.lower() == "content-type":
                return v.split(";")[0].strip()
        return ""


class ClientRecords:
    """Stream requests grouped by client and URL path, fed with events as they happen."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self.records: dict[str, StreamRecord] = {}  # insertion order = start order, mostly
        self.max_records = max_records
        self.dropped = 0
        self.notes: list[tuple[float, str]] = []  # bounded: the last 200
        self._changed: list[StreamRecord] = []  # started or answered since take_changed()

    # events in
    def start(self, rec: StreamRecord) -> None:
        self.records[rec.id] = rec
        self._changed.append(rec)
        if len(self.records) > self.max_records:
            self._drop_oldest_ended()

    def response(self, flow_id: str, t: float, status: int,
                 headers: list[tuple[str, str]]) -> None:
        rec = self.records.get(flow_id)
        if rec is not None:
            rec.status, rec.response_t, rec.response_headers = status, t, headers
            self._changed.append(rec)

    def take_changed(self) -> list[StreamRecord]:
        """The records started or answered since the last call (to learn their secrets)."""
        changed, self._changed = self._changed, []
        return changed

    def end(self, flow_id: str, t: float, note: str = "") -> StreamRecord | None:
        rec = self.records.get(flow_id)
        if rec is not None and rec.end is None:
            rec.end, rec.note = max(t, rec.start), note
        return rec

    def note(self, t: float, text: str) -> None:
        text = mask_secret_params(text)
        self.notes.append((t, text))
        del self.notes[:-200]

    def feed(self, event: dict[str, Any]) -> StreamRecord | None:
        """One event as the addon writes it (a JSON object); returns the record it touched.
        KeyError/TypeError/ValueError on a malformed event."""
        ev = event["ev"]
        if ev == "stream":
            rec = StreamRecord(
                id=str(event["id"]), client=str(event["client"]), path=str(event["path"]),
                kind=str(event["kind"]), method=str(event["method"]), url=str(event["url"]),
                start=float(event["t"]), http_version=str(event.get("http", "HTTP/1.1")),
                request_headers=[(str(n), str(v)) for n, v in event.get("headers", [])])
            self.start(rec)
            return rec
        if ev == "response":
            self.response(str(event["id"]), float(event["t"]), int(event["status"]),
                          [(str(n), str(v)) for n, v in event.get("headers", [])])
            return self.records.get(str(event["id"]))
        if ev == "end":
            return self.end(str(event["id"]), float(event["t"]), str(event.get("note", "")))
        if ev == "note":
            self.note(float(event["t"]), str(event["text"]))
            return None
        raise ValueError(f"unknown event {ev!r}")

    def _drop_oldest_ended(self) -> None:
        for key, rec in self.records.items():
            if rec.end is not None:
                del self.records[key]
                self.dropped += 1
                return
        # all open: the oldest goes anyway, memory stays bounded
        del self.records[next(iter(self.records))]
        self.dropped += 1

    # views out
    def origin(self) -> float:
        return min((r.start for r in self.records.values()), default=0.0)

    def by_path(self, source: str = "") -> dict[str, HarObservation]:
        """One observation per URL path, its requests' page the client, in order of first
        request; times in ms from the first stream request (as `har` counts them)."""
        t0 = self.origin()
        by_path: dict[str, HarObservation] = {}
        for rec in sorted(self.records.values(), key=lambda r: r.start):
            obs = by_path.get(rec.path)
            if obs is None:
                obs = by_path[rec.path] = HarObservation(
                    source, rec.url.split("?", 1)[0], rec.kind, group="client", source="proxy")
            obs.requests.append(StreamRequest(
                (rec.start - t0) * 1000, None if rec.end is None else (rec.end - t0) * 1000,
                rec.client, rec.status))
        return by_path
