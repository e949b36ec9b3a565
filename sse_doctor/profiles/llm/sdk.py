"""A second opinion: how the official Python SDKs would read the same events.

Written from their source (openai ``openai/_streaming.py`` Stream.__stream__, anthropic
``anthropic/_streaming.py`` Stream.__stream__ and ``lib/streaming/_messages.py``
accumulate_event), and checked by tests that feed the installed SDKs the lab's streams
(tests/e2e/test_llm_sdk_agreement.py). A model, not the SDK itself: the probe must not depend on
either SDK, and the SDKs read bytes through their own HTTP stack.

OpenAI (chat completions and Responses, ``create(stream=True)``):
- an event whose data starts with ``[DONE]`` ends the iteration (what follows is never read);
- every other event's data goes through ``json.loads``: a keepalive sent as ``data: ...`` or
  JSON cut across events raises ``json.JSONDecodeError`` out of the user's loop;
- a JSON object with a truthy ``error`` key raises ``openai.APIError`` (its message);
- Responses ``error`` / ``response.failed`` events carry no top-level ``error`` key: they are
  yielded as events, the user's code must look at them;
- without ``[DONE]`` the loop ends only when the body ends: a server that keeps the
  connection open leaves the loop waiting (up to the client's read timeout, 600 s by default).

Anthropic (``messages.create(stream=True)``):
- ``ping`` events and events without an ``event:`` field are skipped (a stream sent without
  event names reads as nothing at all); events with empty data are skipped;
- ``event: error`` raises ``anthropic.APIStatusError`` with the error body;
- any other data goes through ``json.loads`` (a non-JSON payload raises JSONDecodeError);
- ``messages.stream()`` also accumulates the message: an event before ``message_start``
  raises RuntimeError("Unexpected event order"), a delta for a block that never started
  raises IndexError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

EXCERPT = 80


def excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


@dataclass
class SdkView:
    sdk: str  # "openai" | "anthropic"
    outcome: str | None = None  # None while reading; "raises" | "stops"
    t_ms: float | None = None
    detail: str = ""
    helper_detail: str = ""  # anthropic messages.stream() only
    unread_after_stop: int = 0
    skipped_no_event: int = 0
    yielded: int = 0
    blocks: int = 0  # anthropic: content blocks started, as the stream helper counts them

    def _end(self, outcome: str, t_ms: float, detail: str) -> None:
        self.outcome, self.t_ms, self.detail = outcome, t_ms, detail

    def feed(self, t_ms: float, event_type: str, data: str, n: int) -> None:
        """One dispatched SSE event (n: its 1-based number in the stream)."""
        if self.outcome is not None:
            if self.outcome == "stops":
                self.unread_after_stop += 1
            return
        if self.sdk == "openai":
            self._openai(t_ms, event_type, data, n)
        else:
            self._anthropic(t_ms, event_type, data, n)

    def _openai(self, t_ms: float, event_type: str, data: str, n: int) -> None:
        if data.startswith("[DONE]"):
            self._end("stops", t_ms, f"stops at [DONE] (event #{n})")
            return
        try:
            doc = json.loads(data)
        except ValueError as exc:
            self._end("raises", t_ms, f"raises json.JSONDecodeError ({exc.msg}) on event #{n}: "
                                      f"{excerpt(data)!r}")
            return
        if isinstance(doc, dict) and doc.get("error"):
            err = doc["error"]
            msg = err.get("message") if isinstance(err, dict) else None
            if not isinstance(msg, str) or not msg:
                msg = "An error occurred during streaming"
            self._end("raises", t_ms, f"raises openai.APIError({excerpt(msg)!r}) on event #{n}")
            return
        self.yielded += 1

    def _anthropic(self, t_ms: float, event_type: str, data: str, n: int) -> None:
        if event_type == "ping":
            return
        if event_type == "message":  # no event: field (the parser's default type)
            self.skipped_no_event += 1
            return
        if event_type == "error":
            self._end("raises", t_ms, f"raises anthropic.APIStatusError on event #{n}: "
                                      f"{excerpt(data)!r}")
            return
        if not data:
            return
        try:
            doc = json.loads(data)
        except ValueError as exc:
            self._end("raises", t_ms, f"raises json.JSONDecodeError ({exc.msg}) on event #{n}: "
                                      f"{excerpt(data)!r}")
            return
        self.yielded += 1
        if self.helper_detail or not isinstance(doc, dict):
            return
        kind = doc.get("type")
        if self.yielded == 1 and kind != "message_start":
            self.helper_detail = (f"messages.stream() raises RuntimeError('Unexpected event "
                                  f"order, got {kind} before \"message_start\"') on event #{n}")
        elif kind == "content_block_start":
            self.blocks += 1
        elif kind == "content_block_delta":
            index = doc.get("index")
            if isinstance(index, int) and index >= self.blocks:
                self.helper_detail = (f"messages.stream() raises IndexError on event #{n}: a "
                                      f"delta for content block {index}, which never started")

    def summary(self, close_by: str | None) -> tuple[str, str]:
        """(status, detail) at the end of the observation."""
        name = "the official OpenAI SDK" if self.sdk == "openai" else \
            "the official Anthropic SDK"
        if self.outcome == "raises":
            return "raises", f"{name} {self.detail}"
        if self.outcome == "stops":
            more = (f"; the {self.unread_after_stop} event(s) after it are never read"
                    if self.unread_after_stop else "")
            return "stops", f"{name} {self.detail}{more}"
        if self.skipped_no_event and not self.yielded:
            return "reads nothing", (f"{name} skips all {self.skipped_no_event} events: they "
                                     "have no 'event:' field")
        if self.helper_detail:
            return "reads", f"{name} reads the events, but {self.helper_detail}"
        if close_by == "deadline":
            return "waits", (f"{name} was still waiting when the window ended: its loop ends "
                             "only on the terminal marker or the end of the body")
        if self.sdk == "openai":
            return "reads", f"{name} reads {self.yielded} event(s); its loop ends with the body"
        return "reads", f"{name} reads {self.yielded} event(s)"
