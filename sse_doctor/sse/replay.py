"""Recordings: the raw material of one SSE connection (head, timed chunks, end) as JSON, and
its replay through the same SseRecorder the live probe uses. Tests build observations from
recordings in fixtures/ without a network; `record()` makes them from a live stream."""

from __future__ import annotations

import base64
import time
from typing import Any

from sse_doctor.model import Close, ProbeOptions, SseObservation
from sse_doctor.sse import transport
from sse_doctor.sse.observe import SseRecorder, window_for
from sse_doctor.target import Target


def _decode_chunk(item: Any) -> tuple[float, bytes]:
    t_ms, payload = item[0], item[1]
    if isinstance(payload, dict):
        return float(t_ms), base64.b64decode(payload["b64"])
    return float(t_ms), payload.encode("utf-8")


def replay(rec: dict[str, Any], opts: ProbeOptions | None = None,
           tap: Any = None) -> SseObservation:
    """Rebuild the observation a live probe would have made of this recording (`tap`: a
    protocol profile's interpreter, fed as the live probe feeds it)."""
    opts = opts or ProbeOptions(duration=float(rec.get("window_s", 30.0)))
    obs = SseObservation(url=rec.get("url", "http://recorded.invalid/"),
                         method=rec.get("method", "GET"),
                         http2_offered=bool(rec.get("http2_offered", False)))
    obs.window_s = float(rec.get("window_s", window_for(opts)))
    if rec.get("unreachable"):
        obs.unreachable = rec["unreachable"]
        return obs
    recorder = SseRecorder(obs, 0.0, opts, tap)
    head = rec["head"]
    recorder.head(transport.Head(head["t_ms"] / 1000, head["status"],
                                 head.get("http_version", "HTTP/1.1"),
                                 [tuple(h) for h in head["headers"]]))
    end = rec["end"]
    for item in rec.get("chunks", []):
        t_ms, data = _decode_chunk(item)
        if not recorder.chunk(t_ms / 1000, data):
            end = {"by": "client", "t_ms": t_ms, "reason": "enough data"}
            break
    if end["by"] == "server":
        recorder.finish(end["t_ms"] / 1000)
    obs.end_ms = float(end["t_ms"])
    obs.close = Close(end["by"], obs.end_ms, None, end.get("reason", ""))
    return obs


class _Capture:
    def __init__(self, t0: float, limit: int) -> None:
        self.t0, self.limit = t0, limit
        self.got_head: transport.Head | None = None
        self.chunks: list[tuple[float, bytes]] = []
        self.size = 0

    def head(self, head: transport.Head) -> None:
        self.got_head = head

    def chunk(self, t: float, data: bytes) -> bool:
        self.chunks.append(((t - self.t0) * 1000, data))
        self.size += len(data)
        return self.size < self.limit


async def record(target: Target, window_s: float, limit: int = 1 << 20) -> dict[str, Any]:
    """Record a live stream (at most `limit` bytes) as a replayable dict."""
    t0 = time.perf_counter()
    cap = _Capture(t0, limit)
    client = transport.make_client(target)
    try:
        end = await transport.stream(target, cap, t0, window_s, client)
    finally:
        await client.aclose()
    head = cap.got_head
    assert head is not None  # stream() raises Unreachable before a head otherwise
    chunks: list[Any] = []
    for t_ms, data in cap.chunks:
        try:
            chunks.append([round(t_ms, 2), data.decode("utf-8")])
        except UnicodeDecodeError:
            chunks.append([round(t_ms, 2), {"b64": base64.b64encode(data).decode()}])
    return {
        "url": target.url, "method": target.method, "window_s": window_s,
        "head": {"t_ms": round((head.t - t0) * 1000, 2), "status": head.status,
                 "http_version": head.http_version, "headers": [list(h) for h in head.headers]},
        "chunks": chunks,
        "end": {"by": end.by, "t_ms": round((end.t - t0) * 1000, 2), "reason": end.reason},
    }
