"""The terminal report: verdict first, then what to do, then the facts and the detail."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sse_doctor.checks.timing_checks import silences
from sse_doctor.codes import SEVERITY_RANK
from sse_doctor.model import Finding, Report, Result, SseObservation
from sse_doctor.profiles.core import ProfileResult
from sse_doctor.redact import Redactor
from sse_doctor.report import views
from sse_doctor.units import ms_text, size_text

STYLE = {"error": "bold red", "warning": "bold yellow", "info": "cyan", "healthy": "bold green"}
TIMELINE_COLS = 64
MAX_VERBOSE_ROWS = 400


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])


def verdict_line(r: Result) -> Text:
    v = r.verdict
    t = Text()
    t.append(f" {v.upper()} ", style=f"reverse {STYLE[v]}")
    counted = [f for f in r.findings if not f.ignored]
    serious = [f for f in _sorted(counted) if f.severity != "info"]
    if serious:
        t.append("  " + "; ".join(f.title for f in serious[:3]))
        if len(serious) > 3:
            t.append(f" (+{len(serious) - 3} more)")
    elif counted:
        t.append("  nothing wrong found (notes: " + ", ".join(f.code for f in counted) + ")")
    else:
        t.append("  nothing wrong found")
    ignored = sorted({f.code for f in r.findings if f.ignored})
    if ignored:
        t.append(f"  (ignored: {', '.join(ignored)})", style="dim")
    if r.checks_incomplete:
        t.append(" so far" if not serious else "")
        t.append(f"  (interrupted: {len(r.checks_incomplete)} check(s) incomplete)",
                 style="yellow")
    return t


def connection_table(obs: SseObservation, red: Redactor) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column()
    if obs.unreachable:
        t.add_row("target", red.url(obs.url))
        t.add_row("error", red.text(obs.unreachable))
        return t
    ctype = obs.header("content-type") or "-"
    if obs.status is None:  # stopped (Ctrl-C) before the response head
        t.add_row("response", "none yet")
    else:
        t.add_row("response", f"{obs.status} {obs.http_version or ''} · {ctype}")
    extra = [f"{k}: {red.header(k, v)}" for k, v in obs.headers
             if k.lower() in ("cache-control", "content-encoding", "x-accel-buffering",
                              "server", "via")]
    if extra:
        t.add_row("headers", " · ".join(extra))
    t.add_row("timing", f"headers {ms_text(obs.headers_ms)} · first byte {ms_text(obs.ttfb_ms)} · "
                        f"first event {ms_text(obs.first_event_ms)}")
    gaps = [b - a for a, b in silences(obs)] if obs.streamed else []
    t.add_row("received", f"{obs.n_events} events · {obs.n_comments} comments · "
                          f"{size_text(obs.n_bytes)} in {obs.n_chunks} reads · longest silence "
                          f"{ms_text(max(gaps) if gaps else None)}")
    if obs.close:
        t.add_row("ended", f"by {obs.close.by} at {ms_text(obs.close.t_ms)}"
                           + (f" ({red.text(obs.close.reason)})" if obs.close.reason else ""))
    return t


def timeline(obs: SseObservation) -> Text | None:
    """One row of columns over the window: what arrived in each slice of time."""
    if not obs.streamed or obs.end_ms <= 0:
        return None
    span = max(obs.end_ms, 1.0)
    step = span / TIMELINE_COLS
    cols = [" "] * TIMELINE_COLS

    rank = {" ": 0, "░": 1, "·": 2, "█": 3}  # an event outranks a comment outranks bytes

    def mark(t_ms: float, ch: str) -> None:
        i = min(TIMELINE_COLS - 1, int(t_ms / step))
        if rank[ch] > rank[cols[i]]:
            cols[i] = ch

    for c in obs.chunks:
        mark(c.t_ms, "░")
    for c in obs.comments:
        mark(c.t_ms, "·")
    for e in obs.events:
        mark(e.t_ms, "█")
    t = Text("0 |", style="dim")
    for ch in cols:
        t.append(ch, style={"█": "green", "·": "cyan", "░": "yellow"}.get(ch, ""))
    t.append(f"| {ms_text(span)}", style="dim")
    t.append(f"\n      █ event  · comment  ░ other bytes  (blank: silence; "
             f"{step:.0f} ms per column)", style="dim")
    return t


def verbose_rows(obs: SseObservation, red: Redactor) -> Table:
    rows: list[tuple[float, str, str]] = []
    for c in obs.chunks:
        rows.append((c.t_ms, "read", f"{c.size} bytes, {c.records} record(s)"))
    for e in obs.events:
        data = e.data if e.data is not None else "…"
        rows.append((e.t_ms, "event", f"{e.type} id={e.id!r} {data[:100]!r}"))
    for c in obs.comments:
        rows.append((c.t_ms, "comment", repr(c.text[:100])))
    rows.sort(key=lambda r: r[0])
    t = Table(title="raw timeline", show_edge=False, header_style="dim")
    t.add_column("t", justify="right")
    t.add_column("what")
    t.add_column("detail", overflow="fold")
    for t_ms, what, detail in rows[:MAX_VERBOSE_ROWS]:
        t.add_row(f"{t_ms:.1f} ms", what, red.text(detail))
    if len(rows) > MAX_VERBOSE_ROWS:
        t.add_row("", "…", f"{len(rows) - MAX_VERBOSE_ROWS} more rows not shown")
    return t


def profile_table(p: ProfileResult, red: Redactor) -> Table:
    """The protocol profile's facts and metrics, right under the verdict."""
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column()
    how = {"data": "recognised from the stream", "url": "recognised from the URL"}
    # Text, not markup: a step's status may be "[DONE]", and a server's words anything.
    t.add_row("profile", Text(f"{p.name}" + (f" · {p.dialect}" if p.dialect else "")
                              + (f" ({how[p.detected]})" if p.detected in how else "")))
    for label, text in p.facts:
        t.add_row(label, Text(red.text(text)))
    for s in p.steps:
        line = s.step + ("" if s.status is None else f": {s.status}")
        t.add_row(ms_text(s.t_ms), Text(red.text(line + (f" · {s.detail}" if s.detail else ""))))
    return t


def findings_block(findings: list[Finding], red: Redactor, advice: bool = True) -> Group:
    parts = []
    for i, f in enumerate(_sorted(findings), 1):
        head = Text(f"{i}. ")
        head.append(f"[{f.severity}] ", style=STYLE[f.severity])
        head.append(f"{f.code}", style="bold")
        head.append(f"  {f.title}")
        parts.append(head)
        parts.append(Text("   " + red.text(f.detail)))
        if advice:
            parts.append(Text("   → " + f.advice, style="green"))
    return Group(*parts)


def render_result(console: Console, r: Result, red: Redactor, verbose: bool,
                  title: str) -> None:
    console.print(Panel(verdict_line(r), title=title, title_align="left", expand=True))
    if r.profile is not None:
        console.print(profile_table(r.profile, red))
    # Info findings are notes, not work: they never head "What to do".
    serious = [f for f in r.findings if f.severity != "info" and not f.ignored]
    notes = [f for f in r.findings if f.severity == "info" and not f.ignored]
    ignored = [f for f in r.findings if f.ignored]
    if serious:
        console.print(Text("What to do", style="bold"))
        console.print(findings_block(serious, red))
    if notes:
        console.print(Text("Notes", style="bold"))
        console.print(findings_block(notes, red))
    if ignored:
        console.print(Text("Ignored (--ignore: they decide neither verdict nor exit code)",
                           style="bold dim"))
        console.print(findings_block(ignored, red, advice=False))
    if r.checks_incomplete:
        console.print(Text("Incomplete (interrupted before the window ended, so not passed): "
                           + ", ".join(r.checks_incomplete), style="yellow"))
    obs = r.observation
    if isinstance(obs, SseObservation):
        console.print(Text("\nConnection", style="bold"))
        console.print(connection_table(obs, red))
        tl = timeline(obs)
        if tl is not None:
            console.print(Text("\nTimeline", style="bold"))
            console.print(tl)
        if verbose:
            console.print(verbose_rows(obs, red))
    elif obs is not None:
        views.render_terminal(obs, console, red, verbose, r)


def render(report: Report, console: Console, red: Redactor, verbose: bool = False) -> None:
    if report.multi:
        render_summary(report, console, red)
        for r in report.results:
            console.print()
            render_result(console, r, red, verbose, f"{r.name}  {red.url(r.url)}")
        return
    for r in report.results:
        render_result(console, r, red, verbose,
                      f"sse-doctor {report.command}  {red.url(r.url)}")


def render_summary(report: Report, console: Console, red: Redactor) -> None:
    if all(r.expected is None for r in report.results):
        render_scorecard(report, console)
        return
    t = Table(title=f"sse-doctor {report.command}: {len(report.results)} scenarios",
              title_justify="left")
    t.add_column("scenario")
    t.add_column("expected")
    t.add_column("found")
    t.add_column("", justify="center")
    for r in report.results:
        found = sorted({f.code for f in r.findings})
        expected = sorted(r.expected or [])
        ok = r.expected is None or set(found) == set(expected)
        t.add_row(r.name, ", ".join(expected) or "(healthy)", ", ".join(found) or "(nothing)",
                  Text("ok" if ok else "MISMATCH", style="green" if ok else "bold red"))
    console.print(t)


def render_scorecard(report: Report, console: Console) -> None:
    """Experiments and checkups: one row per scenario, worst first in each row."""
    t = Table(title=f"sse-doctor {report.command}: {len(report.results)} "
                    f"scenario{'s' if len(report.results) != 1 else ''}  ·  "
                    f"verdict {report.verdict.upper()}", title_justify="left")
    t.add_column("scenario")
    t.add_column("verdict")
    t.add_column("findings")
    for r in report.results:
        codes = ", ".join(f"{f.code} ({'ignored ' if f.ignored else ''}{f.severity})"
                          for f in _sorted(r.findings))
        t.add_row(r.name, Text(r.verdict, style=STYLE[r.verdict]), codes or "none")
    console.print(t)
