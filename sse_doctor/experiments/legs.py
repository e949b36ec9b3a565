"""Opening one connection of an experiment (a "leg", experiments.observation.Leg), SSE or
WebSocket, behind one small interface.

An experiment opens legs with the client's identity (same URL, headers, cookies), holds each
until enough events arrived or its window ended, and may end it abruptly (RST or FIN, no
close frame). Each leg keeps its full observation; times inside it count from its own
request, and ``start_ms`` places it on the experiment's clock.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from sse_doctor.experiments.observation import Leg
from sse_doctor.model import ProbeOptions
from sse_doctor.sse.observe import observe_sse
from sse_doctor.target import Target


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

    from sse_doctor.ws.client import observe_ws
    from sse_doctor.ws.options import WsOptions

    opts = replace(ws if ws is not None else WsOptions(), duration=window_s,
                   idle_limit=window_s, max_events=max_items, keep=keep, abort=abort,
                   expect_messages=(), ping_interval=None)
    return await observe_ws(target, opts)
