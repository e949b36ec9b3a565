"""`probe --follow`: one line (or one JSON object) per item, the moment it arrives. Pure.

An item is what a recorder hands the live session (sse_doctor.feed): an SSE parser item
(Event, Comment, Retry, Diagnostic), a WebSocket frame (WsFrame) or the connection's end
(model.Close). Its JSON object has `t_ms`, `kind` and the fields the report gives the same
item (events[], comments[], messages[], close), so `jq` filters work on both.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sse_doctor.model import Close
from sse_doctor.redact import Redactor
from sse_doctor.sse.parser import Comment, Diagnostic, Event, Retry
from sse_doctor.ws.observation import WsFrame

STAMP_W = 10  # "123456.7ms" fits; longer stamps push the line
GAP_W = 9


def _r(x: float) -> float:
    return round(x, 1)


def t_ms_of(item: Any) -> float | None:
    if isinstance(item, (Event, Comment, Retry, Diagnostic)):
        return item.t
    if isinstance(item, (WsFrame, Close)):
        return item.t_ms
    return None


def item_json(item: Any, redactor: Redactor) -> dict[str, Any] | None:
    """The JSON Lines object of an item (None for what --follow does not show)."""
    if isinstance(item, Event):
        out: dict[str, Any] = {"t_ms": _r(item.t), "kind": "event", "event": item.type,
                               "data": item.data, "id": item.id, "retry": item.retry}
        if item.truncated:
            out["truncated"] = True
    elif isinstance(item, Comment):
        out = {"t_ms": _r(item.t), "kind": "comment", "text": item.text}
    elif isinstance(item, Retry):
        out = {"t_ms": _r(item.t), "kind": "retry", "retry": item.ms}
    elif isinstance(item, Diagnostic):
        out = {"t_ms": _r(item.t), "kind": "diagnostic", "diagnostic": item.kind,
               "detail": item.detail}
    elif isinstance(item, WsFrame):
        out = {"t_ms": _r(item.t_ms), "kind": "message", **item.to_json()}
    elif isinstance(item, Close):
        out = {"t_ms": _r(item.t_ms), "kind": "close", **item.to_json()}
    else:
        return None
    return redactor.deep(out)


def cut(text: str, width: int | None) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if width is None or len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


def _what(item: Any) -> tuple[str, str, str, str]:
    """(kind word, style, id/code column, data) of an item."""
    if isinstance(item, Event):
        return f"event {item.type}", "bold", f"id={item.id}" if item.id else "", item.data
    if isinstance(item, Comment):
        return "comment", "dim", "", ":" + item.text
    if isinstance(item, Retry):
        return "retry", "dim", "", f"{item.ms} ms"
    if isinstance(item, Diagnostic):
        return "malformed", "yellow", item.kind, item.detail
    if isinstance(item, WsFrame):
        arrow = "←" if item.dir == "in" else "→"
        style = "bold" if item.type in ("text", "binary") else "dim"
        code = str(item.code) if item.code is not None else ""
        size = f" ({item.size} B)" if item.type in ("text", "binary") else ""
        return f"{arrow} {item.type}{size}", style, code, item.text or ""
    if isinstance(item, Close):
        code = str(item.code) if item.code is not None else ""
        return f"closed by {item.by}", "bold magenta", code, item.reason
    return type(item).__name__, "", "", ""


def item_line(item: Any, gap_ms: float | None, idle_limit_s: float, redactor: Redactor,
              width: int | None = 100, verbose: bool = False) -> Text | None:
    """One terminal line: stamp, gap since the previous item (red above --idle-limit), what it
    is, its id or close code, and its data cut to the width (-v: whole)."""
    t_ms = t_ms_of(item)
    if t_ms is None:
        return None
    kind, style, ident, data = _what(item)
    line = Text()
    line.append(f"{t_ms:>{STAMP_W - 2}.1f}ms", style="cyan")
    if gap_ms is None:
        line.append(" " * (GAP_W + 2))
    else:
        over = gap_ms > idle_limit_s * 1000
        gap = f"+{gap_ms / 1000:.1f}s" if gap_ms >= 1000 else f"+{gap_ms:.0f}ms"
        line.append(f"  {gap:>{GAP_W}}", style="bold red reverse" if over else "dim")
    line.append(f"  {kind}", style=style)
    if ident:
        line.append(f"  {ident}", style="dim")
    if data:
        room = None if verbose or width is None else max(8, width - len(line.plain) - 2)
        line.append("  " + cut(redactor.text(data), room))
    return line


class Follower:
    """Gaps between the items of each connection (a profile may hold several at once)."""

    def __init__(self) -> None:
        self._last: dict[int, float] = {}

    def gap(self, obs: Any, item: Any) -> float | None:
        t = t_ms_of(item)
        if t is None:
            return None
        key = id(obs)
        prev = self._last.get(key, 0.0)  # the first item: the wait since the request
        if not isinstance(item, Close):
            self._last[key] = t
        return max(0.0, t - prev)
