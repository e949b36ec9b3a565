"""What an experiment recorded: its steps, its connections (legs), the watched series and a
few counters, with the JSON and terminal views the report renderers ask observations for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.scenarios.legs import Leg

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

