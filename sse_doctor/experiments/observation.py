"""What an experiment recorded: its steps, its connections (legs), the watched series and a
few counters. Data only: the engines (experiments.*) fill it, the checks read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.model import Close
from sse_doctor.units import ms_text

# Kept per leg for reports: enough to compare streams, bounded on long holds.
MAX_LEG_IDS = 200


@dataclass
class Leg:
    role: str  # "drop #1", "reconnect", "duplicate #2", "storm #17", ...
    protocol: str
    start_ms: float  # when its request went out, on the experiment's clock
    obs: Any  # SseObservation | WsObservation
    abort: str | None = None  # "rst" | "fin" when the experiment dropped it

    # --- what every experiment asks of a connection --------------------------------------
    @property
    def unreachable(self) -> str | None:
        return self.obs.unreachable

    @property
    def status(self) -> int | None:
        return self.obs.status

    @property
    def accepted(self) -> bool:
        """The server took the stream: a 2xx event stream, or an open WebSocket."""
        return bool(self.obs.streamed if self.protocol == "sse" else self.obs.opened)

    @property
    def items(self) -> int:
        """Events (SSE) or data messages from the server (WS)."""
        return self.obs.n_events if self.protocol == "sse" else self.obs.n_messages_in

    @property
    def first_item_ms(self) -> float | None:
        return self.obs.first_event_ms if self.protocol == "sse" else self.obs.first_message_ms

    @property
    def close(self) -> Close | None:
        return self.obs.close

    @property
    def end_ms(self) -> float:
        """When it ended, on the experiment's clock."""
        return self.start_ms + self.obs.end_ms

    def ids(self) -> list[str]:
        if self.protocol != "sse":
            return []
        return [e.id for e in self.obs.events[:MAX_LEG_IDS]]

    def refusal(self) -> str:
        """Why the server did not stream to this leg, for people."""
        if self.unreachable:
            return self.unreachable
        obs = self.obs
        if self.protocol == "ws" and getattr(obs, "handshake_error", None):
            return obs.handshake_error
        excerpt = bytes(getattr(obs, "body_excerpt", b"")[:200]).decode("utf-8", "replace")
        what = f"HTTP {obs.status}"
        if self.protocol == "sse" and obs.status is not None and 200 <= obs.status < 300:
            what += f" with Content-Type {obs.header('content-type') or '(none)'}"
        return what + (f": {excerpt.strip()}" if excerpt.strip() else "")

    def summary(self) -> dict[str, Any]:
        """The leg as JSON evidence (the full observation stays out: it can be large)."""
        close = self.close
        out: dict[str, Any] = {
            "role": self.role,
            "start_ms": round(self.start_ms, 1),
            "status": self.status,
            "accepted": self.accepted,
            "items": self.items,
            "first_item_ms": None if self.first_item_ms is None else round(self.first_item_ms, 1),
            "end_ms": round(self.end_ms, 1),
            "close": close.to_json() if close else None,
            "aborted": self.abort,
        }
        if self.unreachable:
            out["error"] = self.unreachable
        elif not self.accepted:
            out["refusal"] = self.refusal()
        if self.protocol == "sse":
            out["ids"] = self.ids()[:20]
        return out

    def line(self) -> str:
        """One line for the terminal."""
        if not self.accepted:
            return f"{self.role}: refused — {self.refusal()}"
        close = self.close
        how = ""
        if self.abort:
            how = f", dropped by us ({self.abort.upper()}) at {ms_text(self.end_ms)}"
        elif close is not None:
            how = f", ended by {close.by} at {ms_text(self.end_ms)}"
        unit = "events" if self.protocol == "sse" else "messages"
        return (f"{self.role}: {self.status} at {ms_text(self.start_ms)}, {self.items} {unit}"
                + how)


MAX_LEGS_KEPT = 50  # storms make thousands; the rest are counted in `stats`
MAX_STEPS = 200


@dataclass
class Step:
    t_ms: float
    text: str
    ok: bool | None = None  # None: neutral; True/False: this step passed/failed


@dataclass
class ExperimentObservation:
    kind: str  # disconnect | duplicates | storm | resume
    protocol: str
    url: str
    settings: dict[str, Any]
    started_at: datetime | None = None
    steps: list[Step] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)
    legs_dropped: int = 0
    series: list[Any] = field(default_factory=list)  # watchers.Series
    stats: dict[str, Any] = field(default_factory=dict)
    end_ms: float = 0.0
    interrupted: bool = False
    # the connection that shows whether the server still serves this client afterwards
    reconnect: Leg | None = None
    reconnect_attempts: int = 0
    reconnect_wants_items: bool = True  # the connections before it got items

    def __repr__(self) -> str:
        return (f"ExperimentObservation(kind={self.kind!r}, url={self.url!r}, "
                f"legs={len(self.legs) + self.legs_dropped})")

    def step(self, t_ms: float, text: str, ok: bool | None = None) -> None:
        if len(self.steps) < MAX_STEPS:
            self.steps.append(Step(t_ms, text, ok))

    def add_leg(self, leg: Leg) -> None:
        if len(self.legs) < MAX_LEGS_KEPT:
            self.legs.append(leg)
        else:
            self.legs_dropped += 1

    @property
    def unreachable(self) -> str | None:
        """The experiment could not start: its first connection got no response."""
        if self.legs and self.legs[0].unreachable:
            return self.legs[0].unreachable
        return None
