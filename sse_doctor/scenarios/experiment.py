"""What an experiment recorded: its steps, its connections (legs), the watched series and a
few counters, with the JSON and terminal views the report renderers ask observations for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.redact import Redactor
from sse_doctor.scenarios.legs import Leg
from sse_doctor.units import ms_text

MAX_LEGS_KEPT = 50  # storms make thousands; the rest are counted in `stats`
MAX_STEPS = 200


@dataclass
class Step:
    t_ms: float
    text: str
    ok: bool | None = None  # None: neutral; True/False: this step passed/failed


@dataclass
class ExperimentObservation:
    kind: str  # disconnect | duplicates | storm | resume
    protocol: str
    url: str
    settings: dict[str, Any]
    started_at: datetime | None = None
    steps: list[Step] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)
    legs_dropped: int = 0
    series: list[Any] = field(default_factory=list)  # watchers.Series
    stats: dict[str, Any] = field(default_factory=dict)
    end_ms: float = 0.0
    interrupted: bool = False
    # the connection that shows whether the server still serves this client afterwards
    reconnect: Leg | None = None
    reconnect_attempts: int = 0
    reconnect_wants_items: bool = True  # the connections before it got items

    def __repr__(self) -> str:
        return (f"ExperimentObservation(kind={self.kind!r}, url={self.url!r}, "
                f"legs={len(self.legs) + self.legs_dropped})")

    def step(self, t_ms: float, text: str, ok: bool | None = None) -> None:
        if len(self.steps) < MAX_STEPS:
            self.steps.append(Step(t_ms, text, ok))

    def add_leg(self, leg: Leg) -> None:
        if len(self.legs) < MAX_LEGS_KEPT:
            self.legs.append(leg)
        else:
            self.legs_dropped += 1

    @property
    def unreachable(self) -> str | None:
        """The experiment could not start: its first connection got no response."""
        if self.legs and self.legs[0].unreachable:
            return self.legs[0].unreachable
        return None

    # --- views for the renderers ----------------------------------------------------------
    def json_parts(self, keep: int, redactor: Redactor) -> dict[str, Any]:
        from sse_doctor.report.json_report import _empty_parts, sse_parts

        first = self.legs[0] if self.legs else None
        if first is not None and first.protocol == "sse":
            parts = sse_parts(first.obs, keep, redactor)
        elif first is not None and hasattr(first.obs, "json_parts"):
            parts = first.obs.json_parts(keep, redactor)
        else:
            parts = _empty_parts()
        parts["experiment"] = {
            "kind": self.kind,
            "settings": self.settings,
            "interrupted": self.interrupted,
            "duration_ms": round(self.end_ms, 1),
            "steps": [{"t_ms": round(s.t_ms, 1), "text": redactor.text(s.text), "ok": s.ok}
                      for s in self.steps],
            "connections": [leg.summary() for leg in self.legs],
            "connections_not_listed": self.legs_dropped,
            "stats": self.stats,
        }
        parts["watches"] = [s.to_json(redactor) for s in self.series]
        return parts

    def render(self, console: Any, redactor: Redactor, verbose: bool, result: Any) -> None:
        from rich.table import Table
        from rich.text import Text

        console.print(Text("\nSteps", style="bold"))
        steps = Table.grid(padding=(0, 2))
        steps.add_column(justify="right", style="dim")
        steps.add_column()
        steps.add_column()
        for s in self.steps:
            mark = {True: Text("✓", style="green"), False: Text("✗", style="bold red"),
                    None: Text("·", style="dim")}[s.ok]
            steps.add_row(ms_text(s.t_ms), mark, redactor.text(s.text))
        console.print(steps)
        if self.series:
            from sse_doctor.watchers import sparkline

            console.print(Text("\nWatched", style="bold"))
            for s in self.series:
                console.print(Text("  ").append_text(sparkline(s)))
        legs = self.legs if verbose else self.legs[:12]
        if legs:
            console.print(Text("\nConnections", style="bold"))
            for leg in legs:
                console.print(Text("  " + redactor.text(leg.line())))
            hidden = len(self.legs) - len(legs) + self.legs_dropped
            if hidden:
                console.print(Text(f"  … {hidden} more (-v or --json for the list)", style="dim"))
        if self.stats:
            console.print(Text("\nCounts", style="bold"))
            console.print(Text("  " + ", ".join(f"{k}: {v}" for k, v in self.stats.items()
                                                if not isinstance(v, (dict, list)))))
