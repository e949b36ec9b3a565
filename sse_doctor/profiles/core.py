"""What every profile's sans-I/O core shares: the Interpreter interface (protocol records and
metrics from a stream's items, as they arrive) and the records it makes (Step, ProfileResult).
Data and pure code only: the engines feed an interpreter, the checks and reports read its
result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    """One step of a profile's conversation, as the report shows it."""

    t_ms: float
    step: str  # "initialize", "first-token", "terminal", ...
    status: int | str | None = None  # HTTP status, close code, or a word ("ok", "missing")
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"t_ms": round(self.t_ms, 1), "step": self.step, "status": self.status,
                "detail": self.detail}


@dataclass
class ProfileResult:
    """What a profile made of a conversation: rendered as the report's ``profile`` object."""

    name: str
    dialect: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # JSON-ready values
    steps: list[Step] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, text) for people
    detected: str = "flag"  # "flag" (--profile NAME), "url" or "data" (auto)
    state: Any = None  # the interpreter's records, for the profile's own checks

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dialect": self.dialect, "metrics": self.metrics,
                "steps": [s.to_json() for s in self.steps], "detected": self.detected}


class Interpreter:
    """Sans-I/O: protocol records and metrics from the items of a stream, as they arrive."""

    def head(self, status: int | None, headers: list[tuple[str, str]]) -> None:
        """The response head (SSE) or the handshake's (WS)."""

    def feed(self, items: list[Any]) -> None:
        raise NotImplementedError

    def result(self, obs: Any) -> ProfileResult:
        raise NotImplementedError
