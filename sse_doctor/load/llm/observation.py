"""What `load --profile llm` observed: the levels, the knee, the watched values. Plain data
read by the checks (checks/llm_load_checks.py) and every renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sse_doctor.load.llm.aggregate import Knee, Level, find_knee

MAX_INFLIGHT = 1000  # open loop: requests of ours in flight at once, at most (--concurrency)


@dataclass
class LlmLoadSettings:
    mode: str  # "concurrency" (closed loop) | "rate" (open loop)
    levels: list[float]  # concurrencies or rates, one level after another
    requests: int | None  # per level (None: until --duration)
    duration: float  # per level, at most (no request starts after it)
    arrival: str = "poisson"  # open loop
    max_inflight: int = MAX_INFLIGHT  # open loop
    ramp: float = 100.0  # closed loop: workers started per second
    slo: dict[str, float] = field(default_factory=dict)
    idle_limit: float = 30.0
    request_timeout: float = 120.0
    cancel_rate: float = 0.0
    cancel_after: float = 1.0
    grace: float = 5.0
    watches: list[Any] = field(default_factory=list)
    remote_rps: float | None = None  # a cap on request starts per second (remote hosts)
    seed: int = 0


@dataclass
class LlmLoadObservation:
    url: str
    protocol: str
    settings: LlmLoadSettings
    levels: list[Level]
    elapsed_s: float
    interrupted: bool = False
    series: list[Any] = field(default_factory=list)  # watchers.Series
    remote: bool = False

    @property
    def knee(self) -> Knee | None:
        return find_knee(self.levels, self.settings.slo) if self.settings.levels[1:] or \
            self.settings.slo else None

    @property
    def cancelled(self) -> int:
        return sum(lv.cancelled for lv in self.levels)

    def llm_json(self) -> dict[str, Any]:
        """The report's `load.llm` object (docs/llm-load.md)."""
        s = self.settings
        knee = self.knee
        levels = [lv.to_json() for lv in self.levels]
        out: dict[str, Any] = {
            "mode": s.mode,
            "arrival": s.arrival if s.mode == "rate" else None,
            "requests_per_level": s.requests,
            "duration_per_level_s": s.duration,
            "objectives": dict(s.slo),
            "cancel": {"rate": s.cancel_rate, "after_s": s.cancel_after,
                       "cancelled": self.cancelled} if s.cancel_rate else None,
            "knee": knee.to_json() if knee is not None else None,
            "levels": levels,
        }
        if levels:
            # the single level's figures at the top too, as the probe's metrics are
            out.update({k: levels[-1][k] for k in (
                "requests", "succeeded", "failed", "cancelled", "requests_per_s",
                "output_tokens_per_s", "metrics", "goodput", "failures", "examples")})
        return out
