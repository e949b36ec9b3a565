"""What one WebSocket connection did, as recorded by sse_doctor.ws.recorder: the opening
handshake, every frame in and out with its time, our pings and their pongs, and the close.

Times are milliseconds since the opening handshake request was sent (``t_ms``); the TCP/TLS
connect before it is ``connect_ms``. Memory stays bounded: at most ``MAX_TIMELINE`` frames are
kept, text excerpts are cut, and counters keep counting past the bounds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sse_doctor.model import Close
from sse_doctor.units import header_value

DATA_TYPES = ("text", "binary")


@dataclass(slots=True)
class WsFrame:
    """One frame (data frames: one whole message) seen on the connection."""

    t_ms: float
    dir: str  # "in" (from the server) | "out" (from us)
    type: str  # text | binary | ping | pong | close
    size: int  # payload bytes (a message's whole size, after decompression)
    text: str | None = None  # excerpt: message text, ping/pong payload, close reason
    truncated: bool = False
    code: int | None = None  # close frames

    @property
    def is_data(self) -> bool:
        return self.type in DATA_TYPES

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_ms": round(self.t_ms, 1), "dir": self.dir, "type": self.type,
                               "size": self.size, "text": self.text}
        if self.truncated:
            out["truncated"] = True
        if self.type == "close":
            out["code"] = self.code
        return out


@dataclass(slots=True)
class PingRec:
    t_ms: float
    payload: str
    pong_ms: float | None = None  # when its pong (or a pong for a later ping) arrived

    @property
    def rtt_ms(self) -> float | None:
        return None if self.pong_ms is None else self.pong_ms - self.t_ms


@dataclass
class WsObservation:
    url: str
    started_at: datetime | None = None
    window_s: float = 0.0
    end_ms: float = 0.0  # when the observation ended (connection gone or window over)
    # --- connecting and the opening handshake
    unreachable: str | None = None  # no HTTP answer at all: DNS, refused, TLS, timeout
    handshake_error: str | None = None  # an HTTP answer that did not open a WebSocket
    connect_ms: float | None = None  # TCP (+TLS) connect time before the handshake was sent
    offered_subprotocols: list[str] = field(default_factory=list)
    origin: str | None = None
    status: int | None = None
    reason_phrase: str = ""
    http_version: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    headers_ms: float | None = None  # handshake response
    body_excerpt: bytes = b""  # body of a refused handshake
    redirects: list[str] = field(default_factory=list)
    subprotocol: str | None = None
    extensions: list[str] = field(default_factory=list)
    # --- frames
    frames: list[WsFrame] = field(default_factory=list)
    frames_dropped: int = 0  # frames beyond MAX_TIMELINE (counted, not kept)
    n_in: Counter[str] = field(default_factory=Counter)  # frames by type
    n_out: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0  # data message payload bytes
    bytes_out: int = 0
    n_reads: int = 0
    size_min: int | None = None  # incoming data messages
    size_max: int | None = None
    ttfb_ms: float | None = None  # first frame from the server
    first_message_ms: float | None = None  # first data message from the server
    last_in_ms: float | None = None  # last frame the server sent on its own (not a pong)
    pings: list[PingRec] = field(default_factory=list)
    ping_interval_s: float | None = None
    pong_deadline_ms: float | None = None
    expect_hits: dict[str, float | None] = field(default_factory=dict)  # substring -> first t
    max_message_size: int | None = None
    oversize: str | None = None  # why we failed the connection for a too-big message
    protocol_error: str | None = None  # why we failed it for a broken frame
    # --- the end
    close: Close | None = None
    close_frame_received: bool = False
    close_frame_sent: bool = False
    close_initiator: str | None = None  # "server" | "client" | None (no close frame at all)
    tcp_end: str | None = None  # "fin" | "reset" | "aborted" (by us) | None
    tcp_end_ms: float | None = None

    # ------------------------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        """The opening handshake succeeded (frame checks apply)."""
        return self.unreachable is None and self.handshake_error is None and self.status == 101

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def data_frames(self, direction: str) -> list[WsFrame]:
        return [f for f in self.frames if f.dir == direction and f.is_data]

    @property
    def open_until_ms(self) -> float:
        """When the connection stopped being open (the close began), or the end of the window."""
        return self.close.t_ms if self.close is not None else self.end_ms

    def silences(self) -> list[tuple[float, float]]:
        """Intervals with no frame the server sent on its own, from the handshake response to
        the end of the connection. Pongs answer our pings, so they do not count: the question
        is whether the server keeps an idle connection alive without the client's help."""
        if not self.opened or self.headers_ms is None:
            return []
        start = self.headers_ms
        times = [f.t_ms for f in self.frames if f.dir == "in" and f.type != "pong"]
        if self.last_in_ms is not None and (not times or self.last_in_ms > times[-1]):
            times.append(self.last_in_ms)  # frames past MAX_TIMELINE were not kept
        end = max(self.open_until_ms, start)
        points = [start, *(t for t in times if start <= t <= end), end]
        return list(zip(points, points[1:]))

    @property
    def n_messages_in(self) -> int:
        return sum(self.n_in[t] for t in DATA_TYPES)

    @property
    def n_messages_out(self) -> int:
        return sum(self.n_out[t] for t in DATA_TYPES)

    # --- fixtures (tests/support/make_ws_recordings.py) -------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "started_at":
                v = v.isoformat() if v else None
            elif f.name == "body_excerpt":
                v = v.decode("latin-1")
            elif f.name == "headers":
                v = [list(h) for h in v]
            elif f.name == "frames":
                v = [[x.t_ms, x.dir, x.type, x.size, x.text, x.truncated, x.code] for x in v]
            elif f.name == "pings":
                v = [[p.t_ms, p.payload, p.pong_ms] for p in v]
            elif f.name in ("n_in", "n_out"):
                v = dict(v)
            elif f.name == "close":
                v = v.to_json() if v else None
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WsObservation:
        d = dict(d)
        if d.get("started_at"):
            d["started_at"] = datetime.fromisoformat(d["started_at"])
        d["body_excerpt"] = d.get("body_excerpt", "").encode("latin-1")
        d["headers"] = [tuple(h) for h in d.get("headers", [])]
        d["frames"] = [WsFrame(*x) for x in d.get("frames", [])]
        d["pings"] = [PingRec(*p) for p in d.get("pings", [])]
        d["n_in"] = Counter(d.get("n_in", {}))
        d["n_out"] = Counter(d.get("n_out", {}))
        if d.get("close"):
            d["close"] = Close(**d["close"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
