"""One connection of an experiment (a "leg"), SSE or WebSocket, behind one small interface.

An experiment opens legs with the client's identity (same URL, headers, cookies), holds each
until enough events arrived or its window ended, and may end it abruptly (RST or FIN, no
close frame). Each leg keeps its full observation; times inside it count from its own
request, and ``start_ms`` places it on the experiment's clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from sse_doctor.model import Close, ProbeOptions
from sse_doctor.scenarios.observe import observe_sse
from sse_doctor.target import Target
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


async def open_leg(
    target: Target,
    role: str,
    t0: float,
    *,
    window_s: float,
    max_items: int | None = None,
    abort: str | None = None,
    last_event_id: str | None = None,
    client: httpx.AsyncClient | None = None,
    keep: int = 200,
    ws: Any = None,
) -> Leg:
    """Open one connection with the target's identity and hold it until `max_items` arrived,
    `window_s` passed, or the server ended it; then end it (abruptly when
    `abort` is "rst" or "fin")."""
    start_ms = (time.perf_counter() - t0) * 1000
    if target.protocol == "ws":
        obs = await _ws_leg(target, window_s, max_items, abort, keep, ws)
    else:
        opts = ProbeOptions(duration=window_s, idle_limit=window_s, max_events=max_items,
                            keep=keep)
        extra = [("Last-Event-ID", last_event_id)] if last_event_id is not None else None
        obs = await observe_sse(target, opts, client=client, extra_headers=extra,
                                abort=abort or "fin")
    dropped = abort if obs.close is not None and obs.close.by in ("client", "deadline") else None
    if dropped and target.protocol == "sse":
        how = "reset (RST)" if dropped == "rst" else "closed (FIN)"
        obs.close.by = "client"
        obs.close.reason = f"sse-doctor {how} the connection after {obs.n_events} events"
    return Leg(role, target.protocol, start_ms, obs, dropped)


async def _ws_leg(target: Target, window_s: float, max_items: int | None, abort: str | None,
                  keep: int, ws: Any = None) -> Any:
    """One WebSocket connection; `ws` (a WsOptions) says what the client sends after the
    handshake and how it handshakes (subprotocols, origin), the same on every connection."""
    from dataclasses import replace

    from sse_doctor.ws.probe import WsOptions, observe_ws

    opts = replace(ws if ws is not None else WsOptions(), duration=window_s,
                   idle_limit=window_s, max_events=max_items, keep=keep, abort=abort,
                   expect_messages=(), ping_interval=None)
    return await observe_ws(target, opts)
