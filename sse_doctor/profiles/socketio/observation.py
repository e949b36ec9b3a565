"""What a Socket.IO session left on the wire: its long-polling requests, the WebSocket that
carried it (or tried to), and the session core with its records. Plain data (rendered by
sse_doctor.report.views)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.profiles.socketio.protocol import SioSession

MAX_REQUESTS = 1000  # polling requests listed (counted past it)


@dataclass
class PollRequest:
    t_ms: float
    method: str
    what: str  # "handshake", "poll", "send", "leave"
    status: int | None
    ms: float
    bytes: int
    packets: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"t_ms": round(self.t_ms, 1), "method": self.method, "what": self.what,
                "status": self.status, "ms": round(self.ms, 1), "bytes": self.bytes,
                "packets": self.packets, "note": self.note}


@dataclass
class SioObservation:
    url: str
    session: SioSession
    started_at: datetime | None = None
    window_s: float = 0.0
    end_ms: float = 0.0
    unreachable: str | None = None
    requests: list[PollRequest] = field(default_factory=list)
    n_requests: int = 0
    ws: Any = None  # WsObservation of the WebSocket (carried the session, or tried to)
    ws_offset_ms: float = 0.0  # when the WebSocket's handshake was sent, in session time
    close: Any = None  # model.Close of a session long-polling carried (the WebSocket has its own)

    def add(self, req: PollRequest) -> None:
        self.n_requests += 1
        if len(self.requests) < MAX_REQUESTS:
            self.requests.append(req)

    @property
    def carried_by_ws(self) -> bool:
        """The WebSocket opened and carried the session (its own checks apply)."""
        return self.ws is not None and self.ws.opened and (
            self.session.transport == "websocket")

    @property
    def streamed(self) -> bool:
        """The Engine.IO session opened (the profile's checks apply in full)."""
        return self.session.handshake is not None
