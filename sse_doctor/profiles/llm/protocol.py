"""LLM token streams, sans-I/O: parser items in, the answer's records and metrics out.

Three dialects, told apart by their data:
- ``openai-chat``: Chat Completions chunks (``object: chat.completion.chunk``), data-only
  events, the terminal ``data: [DONE]``; usage in a last chunk with empty ``choices`` when the
  request set ``stream_options.include_usage``.
- ``openai-responses``: the Responses API, typed events (``response.created``,
  ``response.output_text.delta``...) each with a ``sequence_number``, terminal
  ``response.completed`` | ``response.incomplete`` | ``response.failed`` carrying the usage.
- ``anthropic``: Messages, ``message_start``, content blocks (start, deltas, stop),
  ``message_delta`` (stop reason, usage), ``message_stop``; ``ping`` events between.

Memory is bounded: counters, the first few examples of each problem, and at most MAX_GAPS
inter-token gaps (the maximum is tracked past that).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.profiles.core import Interpreter, ProfileResult, Step
from sse_doctor.profiles.llm.sdk import SdkView, excerpt
from sse_doctor.sse.parser import Event

DIALECTS = ("openai-chat", "openai-responses", "anthropic")
TERMINALS = {"openai-chat": "data: [DONE]",
             "openai-responses": "response.completed|incomplete|failed",
             "anthropic": "message_stop"}
MAX_GAPS = 100_000
MAX_EXAMPLES = 5
MAX_FRAGMENT = 64 * 1024  # a payload kept to try joining it with the next (split JSON)

RESPONSES_TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
RESPONSES_REASONING_DELTAS = {"response.reasoning_text.delta",
                              "response.reasoning_summary_text.delta"}
RESPONSES_TOOL_DELTAS = {"response.function_call_arguments.delta",
                         "response.custom_tool_call_input.delta"}
RESPONSES_TOKEN_DELTAS = {"response.output_text.delta", "response.refusal.delta",
                          "response.reasoning_text.delta", "response.reasoning_summary_text.delta",
                          "response.function_call_arguments.delta",
                          "response.custom_tool_call_input.delta"}
ANTHROPIC_EVENTS = {"message_start", "content_block_start", "content_block_delta",
                    "content_block_stop", "message_delta", "message_stop", "ping", "error"}
KEEPALIVE_WORDS = {"keepalive", "keep-alive", "ping", "heartbeat", "hb"}


def dialect_of(doc: Any) -> str | None:
    """The dialect a JSON payload belongs to, when it says so."""
    if not isinstance(doc, dict):
        return None
    kind = doc.get("type")
    if doc.get("object") == "chat.completion.chunk":
        return "openai-chat"
    if isinstance(kind, str):
        if kind.startswith("response."):
            return "openai-responses"
        if kind == "message_start" and isinstance(doc.get("message"), dict):
            return "anthropic"
    choices = doc.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) \
            and "delta" in choices[0]:
        return "openai-chat"  # OpenAI-compatible servers that leave out "object"
    return None


def keepalive_like(data: str) -> bool:
    s = data.strip()
    return not s or s.startswith(":") or s.lower() in KEEPALIVE_WORDS


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))]


@dataclass
class Problem:
    """A kind of problem: how often, and the first few examples (t_ms, text)."""

    count: int = 0
    examples: list[tuple[float, str]] = field(default_factory=list)

    def add(self, t_ms: float, text: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((t_ms, text))

    @property
    def first(self) -> tuple[float, str]:
        return self.examples[0]


@dataclass
class LlmState:
    """What the interpreter kept: the checks read it."""

    dialect: str | None = None
    status: int | None = None
    usage_requested: bool = False
    n_events: int = 0
    model: str | None = None
    first_token_ms: float | None = None  # the first token of any kind (reasoning included)
    first_answer_ms: float | None = None  # the first answer token: text, refusal or tool call
    last_token_ms: float | None = None
    deltas: int = 0  # events that carried at least one token of any kind
    reasoning_deltas: int = 0  # reasoning_content / reasoning / thinking / reasoning events
    tool_deltas: int = 0  # tool-call argument fragments
    gaps: list[float] = field(default_factory=list)
    gap_max: float | None = None
    usage_tokens: int | None = None
    usage_seen: bool = False
    finish_reason: str | None = None
    finish_ms: float | None = None
    terminal: str | None = None
    terminal_ms: float | None = None
    errors: Problem = field(default_factory=Problem)
    invalid: Problem = field(default_factory=Problem)
    split: Problem = field(default_factory=Problem)
    keepalives: Problem = field(default_factory=Problem)
    empty_finish: Problem = field(default_factory=Problem)
    violations: Problem = field(default_factory=Problem)
    sdk: SdkView | None = None
    close_by: str | None = None
    end_ms: float | None = None


class LlmInterpreter(Interpreter):
    def __init__(self, dialect: str | None = None, usage_requested: bool = False) -> None:
        self.s = LlmState(dialect=dialect, usage_requested=usage_requested)
        self._fragment: str | None = None  # the last payload, when it was not JSON
        self._seq: int | None = None  # Responses: the next sequence_number expected
        self._blocks: dict[int, bool] = {}  # Anthropic: index -> open
        self._started = False  # Anthropic: message_start seen
        self._pending: list[tuple[float, str, str, int]] = []  # events before the dialect
        if dialect is not None:
            self.s.sdk = SdkView("anthropic" if dialect == "anthropic" else "openai")

    # --- feeding ------------------------------------------------------------------------------
    def head(self, status: int | None, headers: list[tuple[str, str]]) -> None:
        self.s.status = status

    def feed(self, items: list[Any]) -> None:
        for item in items:
            if type(item) is Event:
                self.event(item.t, item.type, item.data)

    def event(self, t_ms: float, event_type: str, data: str) -> None:
        s = self.s
        s.n_events += 1
        n = s.n_events
        if s.dialect is None:
            doc = _loads(data)
            found = dialect_of(doc) if doc is not _INVALID else None
            if found is None and event_type in ANTHROPIC_EVENTS - {"error", "ping"}:
                found = "anthropic"
            if found is None:
                if len(self._pending) < 64:
                    self._pending.append((t_ms, event_type, data, n))
                    return
                found = "openai-chat"  # undecided after 64 events: read them as chat chunks
            s.dialect = found
            s.sdk = SdkView("anthropic" if found == "anthropic" else "openai")
            pending, self._pending = self._pending, []
            for args in pending:
                self._one(*args)
        self._one(t_ms, event_type, data, n)

    def _one(self, t_ms: float, event_type: str, data: str, n: int) -> None:
        s = self.s
        assert s.sdk is not None
        s.sdk.feed(t_ms, event_type, data, n)
        if s.terminal is not None:
            s.violations.add(t_ms, f"event #{n} after the terminal {s.terminal}: "
                                   f"{excerpt(data)!r}")
            return
        if s.dialect == "openai-chat" and data.strip() == "[DONE]":
            self._terminal(t_ms, "[DONE]")
            return
        if event_type == "error":
            s.errors.add(t_ms, f"event: error on event #{n}: {excerpt(data)}")
            self._fragment = None
            return
        doc = _loads(data)
        if doc is _INVALID or not isinstance(doc, dict):
            self._not_an_object(t_ms, data, doc, n)
            return
        self._fragment = None
        if s.dialect == "openai-chat":
            self._chat(t_ms, doc, n)
        elif s.dialect == "openai-responses":
            self._responses(t_ms, doc, n)
        else:
            self._anthropic(t_ms, event_type, doc, n)

    def _not_an_object(self, t_ms: float, data: str, doc: Any, n: int) -> None:
        s = self.s
        if doc is _INVALID and keepalive_like(data):
            if data.strip() or s.dialect != "anthropic":  # the Anthropic SDK skips empty data
                s.keepalives.add(t_ms, data)
            self._fragment = None
            return
        if doc is _INVALID and self._fragment is not None:
            joined = _loads(self._fragment + data)
            if isinstance(joined, dict):
                s.split.add(t_ms, f"events #{n - 1} and #{n} are one JSON object cut in two: "
                                  f"{excerpt(self._fragment)!r} + {excerpt(data)!r}")
                s.invalid.add(t_ms, f"event #{n}: {excerpt(data)!r}")
                self._fragment = None
                return
        what = "not JSON" if doc is _INVALID else f"JSON {type(doc).__name__}, not an object"
        s.invalid.add(t_ms, f"event #{n} ({what}): {excerpt(data)!r}")
        self._fragment = data if doc is _INVALID and len(data) <= MAX_FRAGMENT else None

    # --- dialects -----------------------------------------------------------------------------
    def _token(self, t_ms: float, answer: bool = True, reasoning: bool = False,
               tool: bool = False) -> None:
        """One event that carried tokens: ``answer`` when some of them belong to the answer
        (text, refusal, tool call), ``reasoning``/``tool`` to count those kinds apart. The
        first-token clock stops on any kind; the first-answer clock only on the answer."""
        s = self.s
        s.deltas += 1
        s.reasoning_deltas += reasoning
        s.tool_deltas += tool
        if answer and s.first_answer_ms is None:
            s.first_answer_ms = t_ms
        if s.first_token_ms is None:
            s.first_token_ms = t_ms
        elif s.last_token_ms is not None:
            gap = t_ms - s.last_token_ms
            if len(s.gaps) < MAX_GAPS:
                s.gaps.append(gap)
            s.gap_max = gap if s.gap_max is None else max(s.gap_max, gap)
        s.last_token_ms = t_ms

    def _terminal(self, t_ms: float, what: str) -> None:
        self.s.terminal, self.s.terminal_ms = what, t_ms

    def _model(self, value: Any) -> None:
        if self.s.model is None and isinstance(value, str) and value:
            self.s.model = value

    def _chat(self, t_ms: float, doc: dict, n: int) -> None:
        s = self.s
        err = doc.get("error")
        if err or doc.get("object") == "error":
            msg = err.get("message") if isinstance(err, dict) else err or doc.get("message")
            s.errors.add(t_ms, f"an error object on event #{n}: {excerpt(str(msg))}")
            return
        self._model(doc.get("model"))
        usage = doc.get("usage")
        if isinstance(usage, dict):
            s.usage_seen = True
            if isinstance(usage.get("completion_tokens"), int):
                s.usage_tokens = usage["completion_tokens"]
        answer = reasoning = tool = False
        for choice in _list(doc.get("choices")):
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                # a role-only or empty first chunk carries no token: neither clock stops
                for key in ("content", "refusal"):
                    if isinstance(delta.get(key), str) and delta[key]:
                        answer = True
                for key in ("reasoning_content", "reasoning"):
                    if isinstance(delta.get(key), str) and delta[key]:
                        reasoning = True
                for call in _list(delta.get("tool_calls")):
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict) and fn.get("arguments"):
                        tool = True
            fr = choice.get("finish_reason")
            if fr == "":
                s.empty_finish.add(t_ms, f"event #{n}")
            elif fr is not None:
                s.finish_reason, s.finish_ms = str(fr), t_ms
        if answer or reasoning or tool:
            self._token(t_ms, answer or tool, reasoning, tool)

    def _responses(self, t_ms: float, doc: dict, n: int) -> None:
        s = self.s
        kind = _str(doc.get("type"))
        seq = doc.get("sequence_number")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if self._seq is not None and seq != self._seq:
                what = "repeats" if seq < self._seq else "skips to"
                s.violations.add(t_ms, f"sequence_number {what} {seq} on event #{n} "
                                       f"(expected {self._seq})")
            self._seq = seq + 1
        elif kind != "error":
            s.violations.add(t_ms, f"event #{n} ({kind}) has no sequence_number")
        response = doc.get("response") if isinstance(doc.get("response"), dict) else {}
        if response:
            self._model(response.get("model"))
        if kind in RESPONSES_TOKEN_DELTAS:
            if isinstance(doc.get("delta"), str) and doc["delta"]:
                reasoning = kind in RESPONSES_REASONING_DELTAS
                tool = kind in RESPONSES_TOOL_DELTAS
                self._token(t_ms, not reasoning, reasoning, tool)
        elif kind == "error":
            s.errors.add(t_ms, f"an error event on event #{n}: "
                               f"{excerpt(str(doc.get('message') or doc))}")
        elif kind in RESPONSES_TERMINAL:
            self._terminal(t_ms, kind)
            usage = response.get("usage")
            if isinstance(usage, dict):
                s.usage_seen = True
                if isinstance(usage.get("output_tokens"), int):
                    s.usage_tokens = usage["output_tokens"]
            status = response.get("status")
            details = response.get("incomplete_details")
            reason = _str(details.get("reason")) if isinstance(details, dict) else None
            s.finish_reason = reason or (status if isinstance(status, str) and status else
                                         kind.removeprefix("response."))
            s.finish_ms = t_ms
            if kind == "response.failed":
                err = response.get("error")
                msg = err.get("message") if isinstance(err, dict) else err
                s.errors.add(t_ms, f"response.failed on event #{n}: {excerpt(str(msg))}")

    def _anthropic(self, t_ms: float, event_type: str, doc: dict, n: int) -> None:
        s = self.s
        kind = _str(doc.get("type"))
        if kind != event_type and event_type != "message":
            s.violations.add(t_ms, f"event #{n} is named {event_type!r} but its data says "
                                   f"type {kind!r}")
        if kind == "ping":
            return
        if kind == "error":
            err = doc.get("error")
            msg = err.get("message") if isinstance(err, dict) else err
            s.errors.add(t_ms, f"an error event on event #{n}: {excerpt(str(msg))}")
            return
        if kind == "message_start":
            if self._started:
                s.violations.add(t_ms, f"a second message_start on event #{n}")
            self._started = True
            message = doc.get("message")
            if isinstance(message, dict):
                self._model(message.get("model"))
            return
        if not self._started:
            s.violations.add(t_ms, f"{kind} on event #{n} before message_start")
        index = doc.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = None  # a hostile index: it matches no block
        if kind == "content_block_start":
            if any(self._blocks.values()):
                s.violations.add(t_ms, f"block {index} starts on event #{n} while block "
                                       f"{[i for i, o in self._blocks.items() if o][0]} is open")
            if index != len(self._blocks):
                s.violations.add(t_ms, f"block {index} starts on event #{n}; the next block "
                                       f"is {len(self._blocks)}")
            if isinstance(index, int):
                self._blocks[index] = True
        elif kind == "content_block_delta":
            if not self._blocks.get(index):
                s.violations.add(t_ms, f"a delta for block {index} on event #{n}, which is "
                                       "not open")
            delta = doc.get("delta")
            if isinstance(delta, dict):
                # thinking blocks are reasoning; a signature_delta carries no token
                text, thinking, tool = (isinstance(delta.get(k), str) and bool(delta[k])
                                        for k in ("text", "thinking", "partial_json"))
                if text or thinking or tool:
                    self._token(t_ms, text or tool, thinking, tool)
        elif kind == "content_block_stop":
            if not self._blocks.get(index):
                s.violations.add(t_ms, f"block {index} stops on event #{n}, but it is not open")
            else:
                self._blocks[index] = False
        elif kind == "message_delta":
            open_blocks = [i for i, o in self._blocks.items() if o]
            if open_blocks:
                s.violations.add(t_ms, f"message_delta on event #{n} while block "
                                       f"{open_blocks[0]} is open")
            delta = doc.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason") is not None:
                s.finish_reason, s.finish_ms = str(delta["stop_reason"]), t_ms
            usage = doc.get("usage")
            if isinstance(usage, dict):
                s.usage_seen = True
                if isinstance(usage.get("output_tokens"), int):
                    s.usage_tokens = usage["output_tokens"]
        elif kind == "message_stop":
            self._terminal(t_ms, "message_stop")

    # --- result -------------------------------------------------------------------------------
    def result(self, obs: Any) -> ProfileResult:
        s = self.s
        if self._pending:  # never recognised: read what came as chat chunks, for the checks
            s.dialect = "openai-chat"
            s.sdk = SdkView("openai")
            pending, self._pending = self._pending, []
            for args in pending:
                self._one(*args)
            s.dialect = None
        close = getattr(obs, "close", None)
        s.close_by = close.by if close is not None else None
        s.end_ms = getattr(obs, "end_ms", None)
        if not getattr(obs, "streamed", True):  # an HTTP error, JSON...: no answer to read
            return ProfileResult("llm", s.dialect, metrics(s), [],
                                 [("answer", "none: the response is not a 2xx event stream")],
                                 state=s)
        return ProfileResult("llm", s.dialect, metrics(s), steps(s), facts(s), state=s)


_INVALID = object()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _loads(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return _INVALID


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def output_tokens(s: LlmState) -> tuple[int, bool]:
    if s.usage_tokens is not None:
        return s.usage_tokens, True
    return s.deltas, False


def metrics(s: LlmState) -> dict[str, Any]:
    tokens, exact = output_tokens(s)
    rate = None
    if s.first_token_ms is not None and s.last_token_ms is not None \
            and s.last_token_ms > s.first_token_ms and tokens > 1:
        rate = round((tokens - 1) / ((s.last_token_ms - s.first_token_ms) / 1000), 1)
    return {
        "ttft_ms": _r(s.first_token_ms),
        "first_answer_ms": _r(s.first_answer_ms),
        "itl_ms": {"p50": _r(percentile(s.gaps, 0.5)), "p95": _r(percentile(s.gaps, 0.95)),
                   "max": _r(s.gap_max)},
        "output_tokens": tokens,
        "tokens_exact": exact,
        "tokens_per_s": rate,
        "finish_reason": s.finish_reason,
        "model": s.model,
        "deltas": s.deltas,
        "reasoning_deltas": s.reasoning_deltas,
        "tool_call_deltas": s.tool_deltas,
        "terminal": s.terminal,
    }


def steps(s: LlmState) -> list[Step]:
    out: list[Step] = []
    if s.first_token_ms is not None:
        out.append(Step(s.first_token_ms, "first-token", None, ""))
    if s.first_answer_ms is not None and s.first_answer_ms != s.first_token_ms:
        out.append(Step(s.first_answer_ms, "first-answer-token", None,
                        f"after {s.reasoning_deltas} reasoning delta(s)"))
    for t, text in s.errors.examples[:1]:
        out.append(Step(t, "error", "error", text))
    if s.finish_ms is not None:
        out.append(Step(s.finish_ms, "finish", s.finish_reason, ""))
    if s.terminal_ms is not None:
        out.append(Step(s.terminal_ms, "terminal", s.terminal, ""))
    elif s.end_ms is not None:
        ended = {"server": "the server ended the body", "transport": "the connection broke",
                 "deadline": "the window ended", "client": "the probe stopped reading"}
        out.append(Step(s.end_ms, "terminal", "missing",
                        ended.get(s.close_by or "", "the stream ended") + " without "
                        + TERMINALS.get(s.dialect or "", "a terminal marker")))
    if s.sdk is not None:
        status, detail = s.sdk.summary(s.close_by)
        out.append(Step(s.sdk.t_ms if s.sdk.t_ms is not None else (s.end_ms or 0.0),
                        f"{s.sdk.sdk}-sdk", status, detail))
    out.sort(key=lambda st: st.t_ms)
    return out


def facts(s: LlmState) -> list[tuple[str, str]]:
    m = metrics(s)
    tokens = f"{m['output_tokens']}" + ("" if m["tokens_exact"] else " (counted deltas, approx.)")
    itl = m["itl_ms"]
    out = [
        ("model", f"{s.model or '-'} · finish {s.finish_reason or '-'} · terminal "
                  f"{s.terminal or 'missing'}"),
        ("tokens", f"first after {_ms(m['ttft_ms'])} · first answer token after "
                   f"{_ms(m['first_answer_ms'])} · {tokens} tokens · "
                   f"{m['tokens_per_s'] if m['tokens_per_s'] is not None else '-'} tokens/s"),
        ("token gaps", f"p50 {_ms(itl['p50'])} · p95 {_ms(itl['p95'])} · max {_ms(itl['max'])}"),
    ]
    return out


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f} ms" if x < 1000 else f"{x / 1000:.2f} s"


def usage_requested(body: bytes | None) -> bool:
    """The request asked for a usage chunk (OpenAI stream_options.include_usage)."""
    if not body:
        return False
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    opts = doc.get("stream_options") if isinstance(doc, dict) else None
    return isinstance(opts, dict) and opts.get("include_usage") is True
