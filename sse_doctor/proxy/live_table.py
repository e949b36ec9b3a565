"""What `sse-doctor proxy` shows while it runs: on a terminal a live table per client and
path (streams open now, opened in the last minute, the latest reconnect intervals, findings),
otherwise one line per finding or note as it happens (on stderr: stdout is the report's)."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sse_doctor.model import Finding
from sse_doctor.proxy.run import ProxyRun
from sse_doctor.redact import Redactor

MAX_ROWS = 30
MAX_NOTES = 6


def finding_line(path: str, f: Finding, red: Redactor) -> str:
    who = f.evidence.get("page")
    client = f" client {who}" if who else ""
    return red.text(f"{f.severity.upper()} {f.code} on {path}{client}: {f.detail}")


class LiveView:
    """Fed by session.run's on_tick; `close()` when the session is over."""

    def __init__(self, red: Redactor, listen: str, upstream: str, tty: bool,
                 quiet: bool) -> None:
        self.red, self.listen, self.upstream = red, listen, upstream
        self.console = Console(stderr=True, highlight=False)
        self.quiet = quiet
        self.events: list[str] = []
        self.live: Live | None = None
        self.tty = tty and not quiet
        self.started = False  # nothing shows before mitmdump listens

    def _line(self, text: str) -> None:
        self.console.print(Text(text), soft_wrap=True)

    def tick(self, session: ProxyRun, fresh: list[tuple[str, Any]]) -> None:
        if not self.started:
            self.started = True
            if self.tty:
                self.live = Live(console=self.console, auto_refresh=False, transient=False)
                self.live.start()
            elif not self.quiet:
                self._line(f"proxy: listening on {self.listen}, forwarding to "
                           f"{self.upstream}; Ctrl-C ends and reports")
        for kind, item in fresh:
            if kind == "finding":
                path, f = item
                text = "live: " + finding_line(path, f, self.red)
            elif kind == "note":
                text = "note: " + self.red.text(str(item))
            else:
                text = "mitmproxy: " + self.red.text(str(item))
            if self.live is None:
                if not self.quiet:
                    self._line(text)
            else:
                self.events.append(f"{time.strftime('%H:%M:%S')} {text}")
                del self.events[:-MAX_NOTES]
        if self.live is not None:
            self.live.update(self._render(session), refresh=True)

    def _render(self, session: ProxyRun) -> Group:
        now = time.time()
        head = Text(f"sse-doctor proxy  {self.listen} → {self.upstream}  "
                    f"{now - session.started:.0f} s  (Ctrl-C ends and reports)", style="bold")
        t = Table(show_edge=False, header_style="dim")
        for col in ("client", "path", "kind", "open now", "last min", "total",
                    "reconnect gaps (ms)", "findings"):
            t.add_column(col, justify="right" if col in ("open now", "last min", "total")
                         else "left")
        flagged: dict[tuple[str, str], list[str]] = {}
        for path, f in session.findings:
            flagged.setdefault((str(f.evidence.get("page", "")), path), []).append(f.code)
            if "page" not in f.evidence:  # request-storm: the path, all clients
                flagged.setdefault(("*", path), []).append(f.code)
        rows = session.streams.live_rows(now)
        for row in rows[:MAX_ROWS]:
            codes = flagged.get((row["client"], row["path"]), []) + \
                flagged.get(("*", row["path"]), [])
            t.add_row(self.red.text(row["client"]), self.red.text(row["path"]), row["kind"],
                      str(row["open"]), str(row["last_minute"]), str(row["total"]),
                      " ".join(str(g) for g in row["reconnect_gaps_ms"]) or "-",
                      Text(", ".join(sorted(set(codes))) or "ok",
                           style="red" if codes else "green"))
        if len(rows) > MAX_ROWS:
            t.add_row("…", f"{len(rows) - MAX_ROWS} more", "", "", "", "", "", "")
        parts: list[Any] = [head, t]
        if not rows:
            parts.append(Text("no stream requests yet", style="dim"))
        parts.extend(Text(e, style="dim") for e in self.events)
        return Group(*parts)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def is_tty() -> bool:
    return sys.stderr.isatty()
