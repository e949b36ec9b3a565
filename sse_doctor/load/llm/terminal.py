"""`load --profile llm` in a terminal: one row per level (the sweep's table), the knee,
failures by kind with example requests, and watched values."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sse_doctor.load.llm.observation import LlmLoadObservation
from sse_doctor.load.terminal import ms_text

# times in ms, without the unit: eleven columns fit a terminal
COLUMNS = ("level", "reqs", "failed", "TTFT p50", "TTFT p99", "answer p50", "ITL p50",
           "ITL p99", "E2E p99", "tok/s", "good")


def ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def level_rows(obs: LlmLoadObservation) -> list[list[str]]:
    """The sweep's table as text cells (the terminal, docs and tests read the same rows)."""
    rows = []
    for lv in obs.levels:
        share = lv.goodput_share
        rows.append([
            f"{lv.level:g}" + ("/s" if lv.mode == "rate" else ""),
            str(lv.requests), str(lv.failed),
            ms(lv.p("ttft_ms", 0.5)), ms(lv.p("ttft_ms", 0.99)),
            ms(lv.p("first_answer_ms", 0.5)),
            ms(lv.p("itl_ms", 0.5)), ms(lv.p("itl_ms", 0.99)), ms(lv.p("e2e_ms", 0.99)),
            "-" if lv.tokens_per_s is None else f"{lv.tokens_per_s:.0f}",
            "-" if share is None else f"{share:.0%}"])
    return rows


def render_llm_load(console: Console, obs: LlmLoadObservation, red: Any,
                    verbose: bool) -> None:
    s = obs.settings
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    if s.mode == "rate":
        how = f"open loop, {s.arrival} arrivals at {s.levels[0]:g}/s (at most " \
              f"{s.max_inflight} in flight)"
    else:
        how = "closed loop, concurrency " + ", ".join(f"{x:g}" for x in s.levels)
    per = (f"{s.requests} requests or " if s.requests else "") + f"{s.duration:g} s per level"
    facts.add_row("run", f"{how} · {per} · {obs.elapsed_s:.1f} s")
    if s.slo:
        facts.add_row("objectives", ", ".join(f"{k.removesuffix('_ms')} ≤ {ms_text(v)}"
                                              for k, v in s.slo.items()))
    knee = obs.knee
    if knee is not None:
        facts.add_row("knee", Text(f"at {knee.level:g}: {knee.reason}"
                                   + (f" (last good level: {knee.last_good:g})"
                                      if knee.last_good is not None else ""), style="yellow"))
    elif len(obs.levels) > 1:
        facts.add_row("knee", "none within the levels run")
    if s.cancel_rate:
        facts.add_row("cancelled", f"{obs.cancelled} completions closed after "
                                   f"{s.cancel_after:g} s ({s.cancel_rate:.0%} planned)")
    if obs.remote:
        facts.add_row("pace", f"at most {s.remote_rps:g} completions started a second "
                              "(remote host)")
    if obs.interrupted:
        facts.add_row("note", "interrupted: partial figures")
    console.print(Text("\nLLM load", style="bold"))
    console.print(facts)
    t = Table(show_edge=False, header_style="dim", title="times in ms", title_style="dim",
              title_justify="left", padding=(0, 1))
    for i, col in enumerate(COLUMNS):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in level_rows(obs):
        t.add_row(*row)
    if t.row_count:
        console.print(t)
    tokens = [lv for lv in obs.levels if lv.discrepancies]
    for lv in tokens:
        console.print(Text(f"  level {lv.level:g}: usage and counted deltas differ on "
                           f"{lv.discrepancies} request(s), by {lv.discrepancy_tokens} tokens "
                           "in all (chunks are not tokens)", style="dim"))
    failures: dict[str, list[dict]] = {}
    counts: dict[str, int] = {}
    for lv in obs.levels:
        for k, n in lv.failures.items():
            counts[k] = counts.get(k, 0) + n
            failures.setdefault(k, []).extend(lv.examples.get(k, []))
    if counts:
        console.print(Text("\nFailures", style="bold"))
        g = Table.grid(padding=(0, 2))
        g.add_column(style="red")
        g.add_column(justify="right")
        g.add_column()
        for k, n in sorted(counts.items(), key=lambda x: -x[1]):
            ex = failures[k][: 3 if verbose else 1]
            g.add_row(k, str(n), red.text("; ".join(f"#{e['request']}: {e['detail']}"
                                                     for e in ex)))
        console.print(g)
    if obs.series:
        from sse_doctor.watchers.series import sparkline

        console.print(Text("\nWatched", style="bold"))
        for series in obs.series:
            console.print(Text("  ").append_text(sparkline(series)))


class LevelProgress:
    """One status line on stderr while the levels run (rich Live, transient): which level,
    how many answers so far, how many failed."""

    def __init__(self, console: Console, url: str, levels: list[float], mode: str) -> None:
        from rich.live import Live

        self.url, self.levels, self.mode = url, levels, mode
        self.index, self.done, self.failed = 0, 0, 0
        self.live = Live(Text(f"load {url}: starting…"), console=console, transient=True,
                         refresh_per_second=4)

    def __enter__(self) -> LevelProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def record(self, rec: Any) -> None:
        self.done += 1
        self.failed += rec.outcome == "failed"
        self._show()

    def level_done(self, level: Any) -> None:
        self.index += 1
        self.done = self.failed = 0
        self._show()

    def _show(self) -> None:
        if self.index >= len(self.levels):
            return
        value = self.levels[self.index]
        what = f"concurrency {value:g}" if self.mode == "concurrency" else f"{value:g}/s"
        t = Text(f"load {self.url}  ", style="bold")
        t.append(f"level {self.index + 1}/{len(self.levels)} ({what}): {self.done} answers, "
                 f"{self.failed} failed")
        self.live.update(t)
