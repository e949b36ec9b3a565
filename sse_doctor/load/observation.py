"""What a load run observed, merged over its workers: the input of the load checks and of
every renderer (the JSON `load` object, the terminal report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sse_doctor.load.histogram import Histogram
from sse_doctor.load.streams import LagSpec


@dataclass
class LoadSettings:
    streams: int
    ramp: float
    duration: float  # hold after the ramp
    workers: int
    reconnect: bool = False
    lag: LagSpec = field(default_factory=LagSpec)
    idle_limit: float = 30.0
    insecure: bool = False
    cacert: str | None = None
    loop: str = "auto"
    max_inflight: int = 0  # 0: from the ramp

    @property
    def ramp_s(self) -> float:
        return self.streams / self.ramp


@dataclass
class LoadObservation:
    """Everything the fleet counted, merged; the checks and renderers read it."""

    url: str
    protocol: str
    settings: LoadSettings
    workers: int
    loop: str
    interrupted: bool
    counts: dict[str, int]
    refusals: dict[str, int]
    drops: dict[str, int]
    local_errors: dict[str, int]
    hist: dict[str, Histogram]
    phases: list[dict[str, Any]]
    series: list[dict[str, Any]]
    lag_bands: list[Histogram]
    first_event_bands: list[Histogram]
    first_refusal: tuple[float, int] | None
    first_drop_s: float | None
    last_drop_s: float | None
    cpu_percent: float
    cpu_max: float
    kib_per_stream: float | None
    errors: list[str]
    elapsed_s: float
    diagnostics: dict[str, int] = field(default_factory=dict)  # the SSE parser's, by kind



    # --- figures the checks and renderers share ----------------------------------------------
    @property
    def requested(self) -> int:
        return self.settings.streams

    def open_at(self, t_s: float) -> int | None:
        """Streams open in the series' second at or just before ``t_s``."""
        best = None
        for s in self.series:
            if s["t_s"] <= max(t_s, 0.0) + 0.5:
                best = s["open"]
        return best

    def load_json(self) -> dict[str, Any]:
        """The report's ``load`` object (docs/commands/load.md)."""
        c = self.counts
        series = [{k: s[k] for k in ("t_s", "open", "opening", "failed", "events_per_s",
                                     "lag_p99_ms")} for s in self.series]
        generator: dict[str, Any] = {
            "cpu_percent": round(self.cpu_percent, 1),
            "kib_per_stream": None if self.kib_per_stream is None
            else round(self.kib_per_stream, 2)}
        if self.local_errors:
            generator["local_errors"] = dict(self.local_errors)
        if self.errors:
            generator["worker_errors"] = list(self.errors)
        return {
            "streams": {"requested": self.requested, "opened": c.get("opened", 0),
                        "failed": c.get("failed", 0), "dropped": c.get("dropped", 0),
                        "reconnected": c.get("reconnected", 0),
                        "peak_open": c.get("peak_open", 0)},
            "workers": self.workers,
            "loop": self.loop,
            "phases": self.phases,
            "series": series,
            "histograms": {k: h.summary() for k, h in self.hist.items()},
            "refusals": dict(sorted(self.refusals.items())),
            "generator": generator,
        }
