"""Pure checks of an LLM token stream: the interpreter's state in, findings out."""

from __future__ import annotations

from sse_doctor.model import Finding, finding, when
from sse_doctor.profiles.llm.protocol import TERMINALS, LlmState

CODES = ("llm-missing-terminal", "llm-error-in-stream", "llm-invalid-json",
         "llm-nonstandard-keepalive", "llm-no-finish-reason", "llm-usage-missing",
         "llm-sequence-violation", "llm-slow-first-token")


def _sdk(s: LlmState) -> str:
    if s.sdk is None:
        return ""
    detail = s.sdk.summary(s.close_by)[1]
    return " " + detail[0].upper() + detail[1:] + "."


def _more(n: int) -> str:
    return f" ({n} in all)" if n > 1 else ""


def _missing_terminal(s: LlmState) -> list[Finding]:
    terminal = TERMINALS.get(s.dialect or "", "a terminal marker")
    if s.terminal is not None or s.errors.count > 0 or s.close_by == "client":
        return []
    how = {"deadline": "the window ran out", "transport": "the connection broke"}.get(
        s.close_by or "", "the server ended the stream")
    return [finding(
        "llm-missing-terminal",
        f"{how[0].upper() + how[1:]} without {terminal}: clients that wait for it (Open "
        f"WebUI, LangChain callbacks) wait forever or treat the answer as cut off.{_sdk(s)}",
        dialect=s.dialect, close=s.close_by, expected=terminal)]


def _error_in_stream(s: LlmState) -> list[Finding]:
    if not s.errors.count:
        return []
    t, text = s.errors.first
    return [finding(
        "llm-error-in-stream",
        f"At {when(t)}, inside the 200 stream: {text}{_more(s.errors.count)}.{_sdk(s)}",
        at_ms=round(t, 1), count=s.errors.count)]


def _invalid_json(s: LlmState) -> list[Finding]:
    if not s.invalid.count:
        return []
    if s.split.count:
        t, text = s.split.first
        detail = f"At {when(t)}: {text}{_more(s.split.count)}"
    else:
        t, text = s.invalid.first
        detail = f"At {when(t)}, a data payload is not a JSON object: {text}" \
                 f"{_more(s.invalid.count)}"
    return [finding("llm-invalid-json", detail + "." + _sdk(s), at_ms=round(t, 1),
                    count=s.invalid.count, split=s.split.count)]


def _nonstandard_keepalive(s: LlmState) -> list[Finding]:
    if not s.keepalives.count:
        return []
    t, text = s.keepalives.first
    return [finding(
        "llm-nonstandard-keepalive",
        f"At {when(t)}, a keepalive sent as a data line ({'data: ' + text!r}) instead of "
        f"an SSE comment{_more(s.keepalives.count)}.{_sdk(s)}",
        at_ms=round(t, 1), count=s.keepalives.count)]


def _no_finish_reason(s: LlmState) -> list[Finding]:
    if s.empty_finish.count:
        t, text = s.empty_finish.first
        return [finding(
            "llm-no-finish-reason",
            f"finish_reason is an empty string instead of null on {text} at {when(t)}"
            f"{_more(s.empty_finish.count)}: clients that test 'finish_reason is not None' "
            "stop after the first token.", at_ms=round(t, 1), count=s.empty_finish.count)]
    if s.finish_reason is None and (s.terminal is not None or s.close_by == "server") \
            and not s.errors.count and s.deltas:
        return [finding(
            "llm-no-finish-reason",
            "The answer ended without a finish/stop reason: clients cannot tell a complete "
            "answer from one cut by the token limit or a filter.", dialect=s.dialect)]
    return []


def _usage_missing(s: LlmState) -> list[Finding]:
    if s.usage_seen or s.terminal is None or s.errors.count or not (
            s.usage_requested or s.dialect in ("anthropic", "openai-responses")):
        return []
    why = ("the request asked for it (stream_options.include_usage)"
           if s.dialect == "openai-chat" else "the API always sends it")
    return [finding(
        "llm-usage-missing",
        f"No usage came, though {why}: token accounting and cost tracking see nothing.",
        dialect=s.dialect)]


def _sequence_violation(s: LlmState) -> list[Finding]:
    if not s.violations.count:
        return []
    t, text = s.violations.first
    extra = ""
    if s.sdk is not None and s.sdk.helper_detail:
        extra = f" The official Anthropic SDK's {s.sdk.helper_detail}."
    return [finding(
        "llm-sequence-violation",
        f"At {when(t)}: {text}{_more(s.violations.count)}.{extra}",
        at_ms=round(t, 1), count=s.violations.count)]


def _slow_first_token(s: LlmState, ttft_limit: float | None) -> list[Finding]:
    if ttft_limit is None:
        return []
    if s.first_token_ms is None:
        if s.deltas == 0 and s.close_by == "deadline":
            return [finding(
                "llm-slow-first-token",
                f"No token within the window; the limit is {ttft_limit:g} s.",
                ttft_ms=None, limit_s=ttft_limit)]
        return []
    if s.first_token_ms <= ttft_limit * 1000:
        return []
    return [finding(
        "llm-slow-first-token",
        f"The first token came after {when(s.first_token_ms)}, above the limit of "
        f"{ttft_limit:g} s.", ttft_ms=round(s.first_token_ms, 1), limit_s=ttft_limit)]


def check(s: LlmState, ttft_limit: float | None) -> list[Finding]:
    """Every LLM check, one function per code, in the order the report lists them."""
    return [*_missing_terminal(s), *_error_in_stream(s), *_invalid_json(s),
            *_nonstandard_keepalive(s), *_no_finish_reason(s), *_usage_missing(s),
            *_sequence_violation(s), *_slow_first_token(s, ttft_limit)]
