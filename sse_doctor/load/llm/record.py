"""One completion under load: the interpreter's records in, the request's metrics and its
outcome (a success, a failure of one kind, or cancelled by us) out. Pure, so the rules are
tested from recorded streams.

Definitions (docs/llm-load.md compares them with vLLM's and AIPerf's):
- ttft: request sent -> first token of any kind (reasoning and tool calls included); a
  role-only or empty chunk is no token.
- first_answer: request sent -> first answer token (text, refusal or tool call; reasoning
  excluded).
- itl: gaps between successive token-carrying events, the first token excluded (the request's
  mean for goodput; every gap for the run's percentiles).
- tpot: (e2e - ttft) / (output tokens - 1): time per output token after the first.
- e2e: request sent -> the terminal marker (or the end of the body when none came).
- output tokens: the usage the server reported, else the counted deltas; both kept, and the
  difference when both are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sse_doctor.profiles.llm.protocol import LlmState

# The failure kinds, worst-decided first (a request has exactly one).
FAILURE_KINDS = ("connect", "timeout", "http", "not-event-stream", "error-in-stream",
                 "invalid-json", "cut-short", "stalled", "missing-terminal")


@dataclass
class Ending:
    """How the request's I/O ended, as the runner saw it."""

    status: int | None = None  # None: no response head
    content_type: str = ""
    retry_after: str | None = None
    unreachable: str | None = None  # why no response head came
    close_by: str | None = None  # server | transport | client | deadline
    close_reason: str = ""
    end_ms: float | None = None
    cancelled: bool = False  # we closed it on purpose (--cancel-rate)
    stalled: bool = False  # we closed it after --idle-limit of silence


@dataclass
class RequestRecord:
    index: int
    sent_s: float  # when it was sent, seconds from the start of its level
    outcome: str  # "ok" | "failed" | "cancelled"
    kind: str | None = None  # the failure kind ("http-429": the status is part of it)
    detail: str = ""
    status: int | None = None
    ttft_ms: float | None = None
    first_answer_ms: float | None = None
    itl_ms: float | None = None  # this request's mean gap
    gaps: list[float] = field(default_factory=list)
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    output_tokens: int = 0
    usage_tokens: int | None = None
    counted_deltas: int = 0
    reasoning_deltas: int = 0
    tool_call_deltas: int = 0
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def example(self) -> dict:
        return {"request": self.index, "t_s": round(self.sent_s, 3), "status": self.status,
                "detail": self.detail}


def _failure(e: Ending, s: LlmState) -> tuple[str, str] | None:
    """(kind, detail) when the request failed; None when it succeeded."""
    if e.status is None:
        reason = e.unreachable or "no response"
        return ("timeout" if reason.startswith("timeout") else "connect"), reason
    if not 200 <= e.status < 300:
        retry = f", Retry-After: {e.retry_after}" if e.retry_after else ""
        return f"http-{e.status}", f"HTTP {e.status}{retry}"
    if "text/event-stream" not in e.content_type.lower():
        return "not-event-stream", f"200 with Content-Type {e.content_type or 'none'!r}"
    if s.errors.count:
        return "error-in-stream", s.errors.first[1]
    if s.invalid.count:
        return "invalid-json", s.invalid.first[1]
    if e.stalled:
        return "stalled", f"silent for longer than the idle limit after {s.deltas} token " \
                          "event(s)"
    if e.close_by == "transport":
        why = f": {e.close_reason}" if e.close_reason else ""
        return "cut-short", f"the connection broke after {s.deltas} token event(s){why}"
    if e.close_by == "deadline":
        return "timeout", f"no end within the request timeout ({s.deltas} token event(s))"
    if s.terminal is None:
        return "missing-terminal", f"the server ended the body after {s.deltas} token " \
                                   "event(s) without a terminal marker"
    return None


def record_of(index: int, sent_s: float, s: LlmState, e: Ending) -> RequestRecord:
    """The request's record: its metrics from the interpreter's state, its outcome from how
    it ended. A cancelled request is neither a success nor a failure."""
    tokens = s.usage_tokens if s.usage_tokens is not None else s.deltas
    rec = RequestRecord(index=index, sent_s=sent_s, outcome="ok", status=e.status,
                        ttft_ms=s.first_token_ms, first_answer_ms=s.first_answer_ms,
                        gaps=list(s.gaps), output_tokens=tokens, usage_tokens=s.usage_tokens,
                        counted_deltas=s.deltas, reasoning_deltas=s.reasoning_deltas,
                        tool_call_deltas=s.tool_deltas, finish_reason=s.finish_reason)
    if s.gaps:
        rec.itl_ms = sum(s.gaps) / len(s.gaps)
    end = s.terminal_ms if s.terminal_ms is not None else e.end_ms
    rec.e2e_ms = end
    if end is not None and s.first_token_ms is not None and tokens > 1:
        rec.tpot_ms = (end - s.first_token_ms) / (tokens - 1)
    if e.cancelled:
        rec.outcome, rec.detail = "cancelled", f"closed by us after {s.deltas} token event(s)"
        return rec
    failed = _failure(e, s)
    if failed is not None:
        rec.outcome, (rec.kind, rec.detail) = "failed", failed
    return rec
