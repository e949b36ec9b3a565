"""The terminal report of a WebSocket probe: a summary of the connection, then the step
timeline that reads like the log the server never wrote: connect, handshake, every message
out and in, pings and pongs with their round trip, the close (who, code and meaning, reason,
how long after which message, close frame or not), the failing step marked.

Compact by default (the first and last steps, and every failing step with its neighbours);
everything with -v.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sse_doctor.redact import Redactor
from sse_doctor.units import ms_text, rate_text, size_text
from sse_doctor.ws import closecodes
from sse_doctor.ws.observation import WsFrame, WsObservation
from sse_doctor.ws.stats import message_rate, ping_rtts, spread

HEAD_STEPS = 8  # steps shown before "… N more steps" (compact mode)
TAIL_STEPS = 8
CONTEXT = 1  # steps shown around a failing step hidden in the middle
MAX_VERBOSE_STEPS = 2000
TEXT_COLS = 72
ARROW = {"in": "←", "out": "→", "": "·"}


@dataclass
class Step:
    t_ms: float | None
    arrow: str  # "in" | "out" | ""
    what: str
    detail: str
    failing: bool = False
    style: str = ""


def _t(t_ms: float | None) -> str:
    if t_ms is None:
        return ""
    return f"{t_ms:.1f} ms" if abs(t_ms) < 10_000 else f"{t_ms / 1000:.3f} s"






def _one_line(text: str | None, cols: int = TEXT_COLS, cut: bool = False) -> str:
    if not text:
        return ""
    text = text.replace("\r", " ").replace("\n", " ")
    if len(text) > cols:
        return text[: cols - 1] + "…"
    return text + ("…" if cut else "")


# --- steps ----------------------------------------------------------------------------------


def _failure_marks(obs: WsObservation, codes: set[str]) -> dict[str, bool]:
    close = obs.close
    return {
        "handshake": "ws-handshake-failed" in codes,
        "close_in": bool(close and close.by == "server"
                         and codes & {"ws-early-close", "ws-abnormal-close"}),
        "close_out": bool(close and close.by == "client" and "ws-abnormal-close" in codes),
        "tcp": bool(close and close.by == "transport"
                    and codes & {"ws-early-close", "ws-abnormal-close"}),
        "pong": "ws-pong-timeout" in codes,
        "silence": "ws-no-keepalive" in codes,
    }


def _close_context(obs: WsObservation, t_ms: float) -> str:
    """'2.5 ms after your message #1' for the close step."""
    outs = [f for f in obs.data_frames("out") if f.t_ms <= t_ms]
    if outs:
        return f"{_t(t_ms - outs[-1].t_ms)} after your message #{len(outs)}"
    if obs.headers_ms is not None:
        return f"{_t(t_ms - obs.headers_ms)} after the handshake, before you sent anything"
    return ""


def build_steps(obs: WsObservation, red: Redactor, codes: set[str],
                idle_limit_s: float | None = None) -> list[Step]:
    marks = _failure_marks(obs, codes)
    steps: list[Step] = []
    if obs.connect_ms is not None:
        steps.append(Step(-obs.connect_ms, "", "connect",
                          f"TCP{'+TLS' if obs.url.lower().startswith('wss') else ''} "
                          f"connected in {ms_text(obs.connect_ms)}"))
    if obs.unreachable is not None:
        steps.append(Step(None, "", "connect", red.text(obs.unreachable), failing=True))
        return steps
    parts = urlsplit(red.url(obs.url))
    request = f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''}"
    if obs.origin:
        request += f" · Origin {red.text(obs.origin)}"
    if obs.offered_subprotocols:
        request += f" · offers {', '.join(obs.offered_subprotocols)}"
    steps.append(Step(0.0, "out", "handshake", request))
    if obs.status is not None:
        answer = f"{obs.status} {obs.reason_phrase}".strip()
        if obs.opened:
            answer += f" · subprotocol {obs.subprotocol or 'none'}"
            answer += f" · extensions {', '.join(obs.extensions) or 'none'}"
        else:
            body = obs.body_excerpt.decode("utf-8", "replace").strip()
            if body:
                answer += f" · {_one_line(red.text(body), 60)!r}"
        steps.append(Step(obs.headers_ms, "in", "handshake", answer,
                          failing=marks["handshake"]))
    elif obs.handshake_error:
        steps.append(Step(None, "in", "handshake", red.text(obs.handshake_error),
                          failing=True))
    if not obs.opened:
        return steps

    rtt = {p.payload: p for p in obs.pings}
    late_marked = False
    out_n = 0
    deadline = obs.pong_deadline_ms
    for f in obs.frames:
        step = _frame_step(obs, f, red, rtt, marks)
        if f.dir == "out" and f.is_data:
            out_n += 1
            step.what = f"{f.type} #{out_n}"
        if f.type == "ping" and f.dir == "out" and marks["pong"] and not late_marked:
            p = rtt.get(f.text or "")
            if p is not None and deadline is not None and (
                    p.pong_ms is None or p.pong_ms - p.t_ms > deadline):
                step.failing = True
                late_marked = True
        steps.append(step)
    if obs.frames_dropped:
        steps.append(Step(None, "", "…", f"{obs.frames_dropped} more frames not kept"))
    if obs.tcp_end is not None:
        how = {"reset": "reset (RST) by the server", "fin": "closed (FIN)",
               "aborted": "aborted by sse-doctor"}[obs.tcp_end]
        detail = f"TCP connection {how}"
        if obs.close is not None and obs.close.by == "transport":
            detail += f" without a close frame (1006) · {_close_context(obs, obs.close.t_ms)}"
        steps.append(Step(obs.tcp_end_ms, "", "tcp", detail, failing=marks["tcp"]))
    if marks["silence"] and idle_limit_s is not None:
        _insert_silences(obs, steps, idle_limit_s)
    steps.sort(key=lambda s: float("-inf") if s.t_ms is None else s.t_ms)
    return steps


def _frame_step(obs: WsObservation, f: WsFrame, red: Redactor, pings: dict[str, Any],
                marks: dict[str, bool]) -> Step:
    if f.is_data:
        return Step(f.t_ms, f.dir, f.type,
                    f"{size_text(f.size):>9}  {_one_line(red.text(f.text or ''), cut=f.truncated)}")
    if f.type == "ping":
        if f.dir == "out":
            p = pings.get(f.text or "")
            answer = "no pong" if p is None or p.pong_ms is None else \
                f"pong after {_t(p.rtt_ms)}"
            return Step(f.t_ms, "out", "ping", f"{f.text} · {answer}", style="dim")
        return Step(f.t_ms, "in", "ping", f"{f.text or ''} (from the server)", style="dim")
    if f.type == "pong":
        if f.dir == "in":
            p = pings.get(f.text or "")
            rtt = f" · RTT {_t(p.rtt_ms)}" if p is not None and p.rtt_ms is not None else ""
            return Step(f.t_ms, "in", "pong", f"{f.text or ''}{rtt}", style="dim")
        return Step(f.t_ms, "out", "pong", f"{f.text or ''} (our answer)", style="dim")
    # close
    close = obs.close
    reason = f' "{red.text(f.text)}"' if f.text else ""
    code = f"{f.code} {closecodes.name(f.code)}{reason}"
    if f.dir == "in":
        if close is not None and close.by != "server":
            return Step(f.t_ms, "in", "close", f"{code} (the server's answer)")
        return Step(f.t_ms, "in", "close",
                    f"{code} · the server closed · {_close_context(obs, f.t_ms)}",
                    failing=marks["close_in"])
    if close is not None and close.by == "server":
        return Step(f.t_ms, "out", "close", f"{code} (our answer)")
    why = {"deadline": "the window is over", "client": "we closed"}.get(
        close.by if close else "", "we closed")
    if obs.oversize:
        why = "the server's message is over --max-message-size"
    elif obs.protocol_error:
        why = "the server broke the protocol"
    return Step(f.t_ms, "out", "close", f"{code} · {why}", failing=marks["close_out"])


def _insert_silences(obs: WsObservation, steps: list[Step], idle_limit_s: float) -> None:
    for a, b in obs.silences():
        if b - a > idle_limit_s * 1000:
            steps.append(Step(a + 0.0001, "", "silence",
                              f"no frame from the server for {ms_text(b - a)} "
                              f"(--idle-limit {idle_limit_s:g} s)", failing=True,
                              style="yellow"))


def _visible(steps: list[Step], verbose: bool) -> list[int | None]:
    """Indices to show (None = a '… N more' row)."""
    n = len(steps)
    if verbose:
        keep = set(range(min(n, MAX_VERBOSE_STEPS)))
    elif n <= HEAD_STEPS + TAIL_STEPS + 2:
        keep = set(range(n))
    else:
        keep = set(range(HEAD_STEPS)) | set(range(n - TAIL_STEPS, n))
        for i, s in enumerate(steps):
            if s.failing:
                keep |= set(range(max(0, i - CONTEXT), min(n, i + CONTEXT + 1)))
    out: list[int | None] = []
    prev = -1
    for i in sorted(keep):
        if i != prev + 1:
            out.append(None)
        out.append(i)
        prev = i
    if prev != n - 1:
        out.append(None)
    return out


def steps_table(steps: list[Step], verbose: bool) -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(width=1)
    t.add_column(justify="right", style="dim")
    t.add_column(width=1)
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    rows = _visible(steps, verbose)
    last = -1
    for pos, i in enumerate(rows):
        if i is None:
            nxt = next((j for j in rows[pos + 1:] if j is not None), len(steps))
            t.add_row("", "", "", Text("…", style="dim"),
                      Text(f"{nxt - last - 1} more steps (-v shows them all)", style="dim"))
            continue
        last = i
        s = steps[i]
        style = "bold red" if s.failing and s.style != "yellow" else (
            "bold yellow" if s.failing else s.style)
        t.add_row(Text("✗", style=style) if s.failing else "", _t(s.t_ms), ARROW[s.arrow],
                  Text(s.what, style=style or "bold"), Text(s.detail, style=style))
    return t


# --- summary --------------------------------------------------------------------------------


def summary_table(obs: WsObservation, red: Redactor) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column(overflow="fold")
    if obs.unreachable is not None:
        t.add_row("target", red.url(obs.url))
        t.add_row("error", red.text(obs.unreachable))
        return t
    if obs.status is not None:
        line = f"{obs.status} {obs.reason_phrase}".strip() + f" after {ms_text(obs.headers_ms)}"
        if obs.connect_ms is not None:
            line += f" (TCP connect {ms_text(obs.connect_ms)})"
        t.add_row("handshake", line)
    if not obs.opened:
        t.add_row("error", red.text(obs.handshake_error or "no WebSocket upgrade"))
        for name in ("content-type", "server", "location", "www-authenticate"):
            value = obs.header(name)
            if value is not None:
                t.add_row(name, red.header(name, value))
        body = obs.body_excerpt.decode("utf-8", "replace").strip()
        if body:
            t.add_row("body", red.text(_one_line(body, 300)))
        if obs.close is not None:
            t.add_row("closed", f"by the server at {_t(obs.close.t_ms)}, no close code "
                                "(the handshake was refused)")
        return t
    t.add_row("negotiated", f"subprotocol {obs.subprotocol or 'none'}"
                            + (f" (offered {', '.join(obs.offered_subprotocols)})"
                               if obs.offered_subprotocols else "")
                            + f" · extensions "
                              f"{red.text(obs.header('sec-websocket-extensions') or 'none')}")
    n_in, n_out = obs.n_messages_in, obs.n_messages_out
    sizes = (f", {size_text(obs.size_min or 0)}–{size_text(obs.size_max or 0)} each"
             if n_in else "")
    rate = message_rate(obs)
    t.add_row("messages", f"in {n_in} ({size_text(obs.bytes_in)}{sizes}"
                          f"{', ' + rate_text(rate) if rate else ''}) · out {n_out} "
                          f"({size_text(obs.bytes_out)}) · first in after "
                          f"{ms_text(obs.first_message_ms)}")
    if obs.pings:
        rtt = spread(ping_rtts(obs))
        answered = sum(1 for p in obs.pings if p.pong_ms is not None)
        t.add_row("pings", f"{len(obs.pings)} sent · {answered} answered · RTT p50 "
                           f"{ms_text(rtt['p50'])} p95 {ms_text(rtt['p95'])} "
                           f"max {ms_text(rtt['max'])}"
                           + (f" · pong deadline {ms_text(obs.pong_deadline_ms)}"
                              if obs.pong_deadline_ms else ""))
    if obs.n_in["ping"]:
        t.add_row("server pings", str(obs.n_in["ping"]))
    gaps = [b - a for a, b in obs.silences()]
    t.add_row("longest silence", ms_text(max(gaps) if gaps else None) + " (frames from the server)")
    close = obs.close
    if close is not None:
        who = {"server": "by the server", "transport": "by the network (no close frame)",
               "client": "by sse-doctor", "deadline": "by sse-doctor at the end of the window"
               }[close.by]
        line = f"{who} at {_t(close.t_ms)}"
        if close.code is not None:
            line += f" · {close.code} {closecodes.name(close.code)}"
        if close.reason:
            line += f' "{red.text(close.reason)}"'
        frames = []
        frames.append("close frame received" if obs.close_frame_received
                      else "no close frame received")
        frames.append("close frame sent" if obs.close_frame_sent else "no close frame sent")
        if obs.tcp_end:
            frames.append(f"TCP {obs.tcp_end} at {_t(obs.tcp_end_ms)}")
        t.add_row("closed", line)
        t.add_row("", " · ".join(frames))
        if close.code is not None and closecodes.is_abnormal(close.code):
            t.add_row("", f"{close.code} means: {closecodes.meaning(close.code)}")
    return t


def render(obs: WsObservation, console: Console, red: Redactor, verbose: bool,
           result: Any) -> None:
    codes = {f.code for f in getattr(result, "findings", [])}
    idle = getattr(getattr(result, "options", None), "idle_limit", None)
    console.print(Text("\nWebSocket", style="bold"))
    console.print(summary_table(obs, red))
    steps = build_steps(obs, red, codes, idle)
    if steps:
        console.print(Text("\nSteps", style="bold") +
                      Text("  (t = ms since the opening handshake was sent)", style="dim"))
        console.print(steps_table(steps, verbose))
