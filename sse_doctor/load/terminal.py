"""The load run in a terminal: the facts after the verdict and what to do (render_load), and
the live line while it runs (LiveView)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sse_doctor.load.observation import LoadObservation

BARS = " ▁▂▃▄▅▆▇█"
MAX_COLS = 60


def ms_text(ms: float | None) -> str:
    """Load figures span 0.1 ms to minutes: decimals below 100 ms."""
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _spark(values: list[float | None]) -> str:
    """One character per value, scaled to the largest (blank: no value)."""
    if len(values) > MAX_COLS:  # every column the largest of its slice
        step = len(values) / MAX_COLS
        values = [max((v for v in values[int(i * step):int((i + 1) * step)] if v is not None),
                      default=None) for i in range(MAX_COLS)]
    top = max((v for v in values if v is not None), default=0) or 1
    return "".join(" " if v is None else BARS[min(8, max(1, round(8 * v / top)))]
                   for v in values)


def render_load(console: Console, obs: LoadObservation, red: Any, verbose: bool) -> None:
    c = obs.counts
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("streams", f"{obs.requested} requested · {c.get('opened', 0)} opened · "
                             f"{c.get('failed', 0)} failed · {c.get('dropped', 0)} dropped · "
                             f"{c.get('reconnected', 0)} reconnects · peak {c.get('peak_open', 0)}"
                             " open")
    s = obs.settings
    facts.add_row("run", f"ramp {s.ramp:g}/s for {s.ramp_s:.1f} s, hold {s.duration:g} s · "
                         f"{obs.workers} worker(s) on {obs.loop} · {obs.elapsed_s:.1f} s")
    if obs.refusals:
        facts.add_row("refusals", " · ".join(f"{k}: {n}" for k, n in
                                             sorted(obs.refusals.items(), key=lambda x: -x[1])))
    if obs.drops:
        facts.add_row("drops", " · ".join(f"{k}: {n}" for k, n in sorted(obs.drops.items())))
    if obs.diagnostics:
        facts.add_row("malformed", f"{c.get('malformed', 0)} streams · " + " · ".join(
            f"{k}: {n}" for k, n in sorted(obs.diagnostics.items(), key=lambda x: -x[1])))
    kib = "-" if obs.kib_per_stream is None else f"{obs.kib_per_stream:.1f} KiB per stream"
    facts.add_row("generator", f"CPU {obs.cpu_percent:.0f} % of a core (busiest worker) · {kib}"
                  + (f" · local errors {obs.local_errors}" if obs.local_errors else ""))
    if obs.interrupted:
        facts.add_row("note", "interrupted: partial figures")
    for e in obs.errors:
        facts.add_row("worker", Text(e, style="yellow"))
    console.print(Text("\nFleet", style="bold"))
    console.print(facts)
    t = Table(show_edge=False, header_style="dim", title_justify="left")
    t.add_column("")
    for col in ("p50", "p95", "p99", "max", "count"):
        t.add_column(col, justify="right")
    names = {"headers_ms": "headers", "first_byte_ms": "first byte",
             "first_event_ms": "first event", "gap_ms": "gap", "lag_ms": "lag"}
    for key, h in obs.hist.items():
        if not h.count:
            continue
        sm = h.summary()
        t.add_row(names[key], *(ms_text(sm[q]) for q in ("p50", "p95", "p99", "max")),
                  str(sm["count"]))
    if t.row_count:
        console.print(Text("\nTimes", style="bold"))
        console.print(t)
    if obs.series:
        console.print(Text(f"\nOver time (1 column ≈ {max(1, len(obs.series) / MAX_COLS):.0f} s)",
                           style="bold"))
        g = Table.grid(padding=(0, 1))
        g.add_column(style="dim")
        g.add_column(style="green")
        g.add_column(style="dim")
        opens = [s["open"] for s in obs.series]
        g.add_row("open", _spark(opens), f"max {max(opens)}")
        lags = [s["lag_p99_ms"] for s in obs.series]
        if any(v is not None for v in lags):
            g.add_row("lag p99", _spark(lags),
                      f"max {ms_text(max(v for v in lags if v is not None))}")
        fails = [s["failed"] for s in obs.series]
        if fails[-1]:
            g.add_row("failed", _spark(fails), f"total {fails[-1]}")
        console.print(g)
    if verbose:
        v = Table(title="series", show_edge=False, header_style="dim")
        for col in ("t_s", "open", "opening", "failed", "events_per_s", "lag_p99_ms", "cpu"):
            v.add_column(col, justify="right")
        for row in obs.series:
            v.add_row(*(str(row.get(k)) for k in ("t_s", "open", "opening", "failed",
                                                  "events_per_s", "lag_p99_ms", "cpu")))
        console.print(v)


class LiveView:
    """One status line on stderr, refreshed by every worker sample (rich Live)."""

    def __init__(self, console: Console, url: str) -> None:
        from rich.live import Live

        self.url = url
        self.live = Live(Text(f"load {url}: starting workers…"), console=console,
                         transient=True, refresh_per_second=4)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, row: dict[str, Any]) -> None:
        p50, p99 = row.get("lag_p50_ms"), row.get("lag_p99_ms")
        t = Text(f"load {self.url}  ", style="bold")
        t.append(f"{row.get('t_s', 0)} s  open {row.get('open', 0)}/{row.get('requested', 0)}  "
                 f"opening {row.get('opening', 0)}  failed {row.get('failed', 0)}  "
                 f"{row.get('events_per_s', 0)} items/s  "
                 f"lag p50/p99 {ms_text(p50)}/{ms_text(p99)}  "
                 f"CPU {row.get('cpu', 0):.0f} %")
        self.live.update(t)
