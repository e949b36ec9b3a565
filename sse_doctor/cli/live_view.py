"""The live panel of `probe` on a terminal (stderr), and the `--follow` printer.

The panel is redrawn a few times a second from the observation in progress (the session in
sse_doctor.feed registers it): elapsed time against the window, the response head, what
arrived and how fast, the silence going on against --idle-limit, the last item, and the
findings already decided (checks.live). It is drawn from a task on the event loop that fills
the observation, never from rich's refresh thread, so it never reads a list mid-append.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sse_doctor import feed
from sse_doctor.checks.provisional import live_findings
from sse_doctor.model import SseObservation
from sse_doctor.redact import Redactor
from sse_doctor.report import follow
from sse_doctor.sse.parser import Event
from sse_doctor.units import ms_text, size_text
from sse_doctor.ws.observation import WsFrame

REFRESH_S = 0.25
EXCERPT = 200
SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}


class LivePanel:
    """What the panel shows, from the session's latest observation."""

    def __init__(self, session: feed.Feed, url: str, window_s: float, idle_limit_s: float,
                 opts: Any, ws_opts: Any, redactor: Redactor) -> None:
        self.session, self.url, self.window_s = session, url, window_s
        self.idle_limit_s, self.opts, self.ws_opts = idle_limit_s, opts, ws_opts
        self.red = redactor
        self.t0 = time.perf_counter()
        self.last: dict[int, Any] = {}  # obs id -> the last event or data message
        session_listener = session.listener

        def listener(obs: Any, items: Any) -> None:
            for item in items:
                if isinstance(item, Event) or (
                        isinstance(item, WsFrame) and item.dir == "in"
                        and item.type in ("text", "binary")):
                    self.last[id(obs)] = item
            if session_listener is not None:
                session_listener(obs, items)

        session.listener = listener

    def render(self) -> Panel:
        elapsed = time.perf_counter() - self.t0
        window = "unlimited" if math.isinf(self.window_s) else f"{self.window_s:g} s"
        title = f"observing {self.red.url(self.url)}  {elapsed:.1f} s / {window}"
        if self.session.stop is not None and self.session.stop.is_set():
            title += "  · stopping"
        obs = self.session.observations[-1] if self.session.observations else None
        if obs is None:
            return Panel(Text("connecting…", style="dim"), title=title, title_align="left")
        started = self.session.started.get(id(obs), self.t0)
        now_ms = (time.perf_counter() - started) * 1000
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="dim")
        rows.add_column()
        if isinstance(obs, SseObservation):
            self._sse_rows(rows, obs, now_ms)
            opts = self.opts
        else:
            self._ws_rows(rows, obs, now_ms)
            opts = self.ws_opts
        found = live_findings(obs, opts, now_ms)
        parts: list[Any] = [rows]
        if found:
            lines = Text()
            for f, provisional in found:
                lines.append(f"[{f.severity}] ", style=SEVERITY_STYLE.get(f.severity, ""))
                lines.append(f.code, style="bold")
                lines.append(f"  {f.title}")
                if provisional:
                    lines.append("  (provisional: a later arrival may clear it)", style="dim")
                lines.append("\n")
            lines.rstrip()
            parts += [Text("findings so far", style="bold"), lines]
        return Panel(Group(*parts), title=title, title_align="left")

    def _silence(self, rows: Table, since_ms: float | None, now_ms: float) -> None:
        if since_ms is None:
            since_ms = 0.0
        silent = max(0.0, now_ms - since_ms)
        over = silent > self.idle_limit_s * 1000
        text = Text(f"{silent / 1000:.1f} s", style="bold red" if over else "")
        text.append(f" / idle limit {self.idle_limit_s:g} s", style="dim")
        rows.add_row("silence now", text)

    def _sse_rows(self, rows: Table, obs: SseObservation, now_ms: float) -> None:
        if obs.status is None:
            rows.add_row("response", Text("waiting for the response head…", style="dim"))
        else:
            ctype = obs.header("content-type") or "-"
            rows.add_row("response", f"{obs.status} {obs.http_version or ''} · {ctype} · "
                                     f"headers {ms_text(obs.headers_ms)} · first byte "
                                     f"{ms_text(obs.ttfb_ms)}")
            facts = [f"{k}: {self.red.header(k, v)}" for k, v in obs.headers
                     if k.lower() in ("cache-control", "content-encoding",
                                      "x-accel-buffering")]
            if facts:
                rows.add_row("headers", " · ".join(facts))
        secs = max(now_ms / 1000, 1e-3)
        rows.add_row("received", f"{obs.n_events} events ({obs.n_events / secs:.1f}/s) · "
                                 f"{obs.n_comments} comments · {size_text(obs.n_bytes)} "
                                 f"({size_text(int(obs.n_bytes / secs))}/s)")
        if obs.status is not None:
            last_chunk = obs.chunks[-1].t_ms if obs.chunks else obs.headers_ms
            self._silence(rows, last_chunk, now_ms)
        ev = self.last.get(id(obs))
        if ev is not None:
            ident = f" id={ev.id}" if ev.id else ""
            data = follow.cut(self.red.text(ev.data), EXCERPT)
            rows.add_row("last event", f"{ms_text(ev.t)} · {ev.type}{ident} · {data}")
        if obs.close is not None:
            rows.add_row("ended", f"by {obs.close.by} ({self.red.text(obs.close.reason)})")

    def _ws_rows(self, rows: Table, obs: Any, now_ms: float) -> None:
        if obs.status is None and not obs.unreachable:
            rows.add_row("handshake", Text("waiting for the handshake response…", style="dim"))
        elif obs.status is not None:
            rows.add_row("handshake", f"{obs.status} {obs.reason_phrase} · headers "
                                      f"{ms_text(obs.headers_ms)}"
                         + (f" · subprotocol {obs.subprotocol}" if obs.subprotocol else ""))
        secs = max(now_ms / 1000, 1e-3)
        rows.add_row("messages", f"{obs.n_messages_in} in ({obs.n_messages_in / secs:.1f}/s) · "
                                 f"{obs.n_messages_out} out · {size_text(obs.bytes_in)} in "
                                 f"({size_text(int(obs.bytes_in / secs))}/s) · pings "
                                 f"{obs.n_in['ping']} in / {obs.n_out['ping']} out")
        if obs.opened:
            self._silence(rows, obs.last_in_ms if obs.last_in_ms is not None
                          else obs.headers_ms, now_ms)
        msg = self.last.get(id(obs))
        if msg is not None:
            rows.add_row("last message", f"{ms_text(msg.t_ms)} · {msg.type} · "
                                         f"{follow.cut(self.red.text(msg.text or ''), EXCERPT)}")
        closes = [f for f in obs.frames[-4:] if f.type == "close"]
        for f in closes:
            who = "server" if f.dir == "in" else "sse-doctor"
            rows.add_row("close", f"{who} sent close {f.code} "
                                  f"{self.red.text(f.text or '')!r} at {ms_text(f.t_ms)}")


async def with_panel(coro: Any, panel: LivePanel, console: Console) -> Any:
    """Run `coro` while the panel is redrawn on `console` (transient: the report follows)."""
    task = asyncio.ensure_future(coro)
    view = Live(panel.render(), console=console, auto_refresh=False, transient=True,
                redirect_stdout=False, redirect_stderr=False)
    try:
        view.start(refresh=True)
        while not task.done():
            await asyncio.wait({task}, timeout=REFRESH_S)
            view.update(panel.render(), refresh=True)
    except OSError:
        pass  # the terminal went away (window closed): the probe goes on without a panel
    except asyncio.CancelledError:
        task.cancel()  # the probe under the panel is what was cancelled
        await asyncio.wait({task})
        raise
    finally:
        try:
            view.stop()
        except OSError:
            pass
    return await task


class _Stdout(Console):
    def on_broken_pipe(self) -> None:
        # rich exits the process here (SystemExit inside a transport task); the printer
        # stops the probe instead, so its connection is closed properly.
        raise BrokenPipeError()


class Printer:
    """--follow: each item on stdout the moment it arrives, as a line or a JSON object.

    A closed stdout (`| head -1`) stops the probe quietly: the session is stopped, so its
    connection closes, and the command exits without a report (`closed` is set)."""

    def __init__(self, session: feed.Feed, json_lines: bool, idle_limit_s: float,
                 redactor: Redactor, verbose: bool) -> None:
        self.session, self.json_lines = session, json_lines
        self.idle_limit_s, self.red, self.verbose = idle_limit_s, redactor, verbose
        self.follower = follow.Follower()
        self.console = _Stdout(file=sys.stdout, highlight=False, soft_wrap=True)
        self.width = self.console.width if self.console.is_terminal else None
        self.closed = False
        session.listener = self.items

    def items(self, obs: Any, items: Any) -> None:
        if self.closed:
            return
        try:
            for item in items:
                self._one(obs, item)
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):  # ValueError: write to a closed file
            self.output_closed()

    def _one(self, obs: Any, item: Any) -> None:
        gap = self.follower.gap(obs, item)
        if self.json_lines:
            out = follow.item_json(item, self.red)
            if out is not None:
                sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            return
        line = follow.item_line(item, gap, self.idle_limit_s, self.red, self.width,
                                self.verbose)
        if line is not None:
            self.console.print(line, crop=False, overflow="ignore")

    def output_closed(self) -> None:
        self.closed = True
        discard_stdout()
        self.session.set_stop("the output was closed")


def discard_stdout() -> None:
    """stdout's reader went away: later writes (and the interpreter's last flush) go to
    /dev/null instead of raising BrokenPipeError."""
    _discard(sys.stdout)


def discard_terminal() -> None:
    """The terminal was closed (SIGHUP): stdout and stderr go to /dev/null, so the
    interpreter's last flush does not turn the exit code into 120."""
    _discard(sys.stdout)
    _discard(sys.stderr)


def _discard(stream: Any) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
