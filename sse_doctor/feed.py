"""What a running probe hands to the shell while it runs: the observations in progress, every
item the moment it is recorded, and the stop that ends them early (Ctrl-C, SIGTERM).

The recorders (sse.observe.SseRecorder, ws.recorder.WsRecorder) look the feed up once
when they start and call its listener with each batch of items; the transports end their
connection when `stop` is set. A context variable rather than a parameter: protocol profiles
drive their own conversations through the same observe functions, and every one of them
would otherwise have to pass the session along. Outside a session (suites, experiments,
tests) `current()` is None and the recorders pay one None test per batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# listener(obs, items): items are parser items (sse.parser Event, Comment, Retry,
# Diagnostic), WebSocket frames (ws.observation.WsFrame) or the connection's end (model.Close)
Listener = Callable[[Any, "list[Any] | tuple[Any, ...]"], None]


@dataclass
class Feed:
    listener: Listener | None = None
    stop: asyncio.Event | None = None  # set: end every connection now, keep what was seen
    reason: str = ""  # why stop was set, for the close reason ("interrupted (SIGINT)")
    observations: list[Any] = field(default_factory=list)  # in the order they started
    stop_callbacks: list[Callable[[], None]] = field(default_factory=list)
    started: dict[int, float] = field(default_factory=dict)  # id(obs) -> perf_counter

    def watch(self, obs: Any) -> Callable[[Any], None] | None:
        """Register an observation in progress; the recorder's hook for its items."""
        self.observations.append(obs)
        self.started[id(obs)] = time.perf_counter()
        listener = self.listener
        if listener is None:
            return None
        return lambda items: listener(obs, items)

    def on_stop(self, callback: Callable[[], None]) -> None:
        if self.stop is not None and self.stop.is_set():
            callback()
        else:
            self.stop_callbacks.append(callback)

    def set_stop(self, reason: str) -> None:
        self.reason = reason
        if self.stop is not None:
            self.stop.set()
        for callback in self.stop_callbacks:
            callback()


_CURRENT: ContextVar[Feed | None] = ContextVar("sse_doctor_feed", default=None)


def current() -> Feed | None:
    return _CURRENT.get()


def start(session: Feed | None) -> None:
    """Make `session` the current one for this task and the tasks it starts (None: no
    session any more)."""
    _CURRENT.set(session)


def hook(obs: Any) -> Callable[[Any], None] | None:
    """The recorder's listener for `obs` (None outside a session or without a listener)."""
    session = _CURRENT.get()
    return session.watch(obs) if session is not None else None


def stop_event() -> asyncio.Event | None:
    session = _CURRENT.get()
    return session.stop if session is not None else None


def stop_reason() -> str:
    session = _CURRENT.get()
    return session.reason if session is not None else ""


def on_stop(callback: Callable[[], None]) -> None:
    """Call `callback` when the current session is stopped (nothing outside a session)."""
    session = _CURRENT.get()
    if session is not None:
        session.on_stop(callback)
