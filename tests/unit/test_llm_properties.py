"""Whatever a server sends, the llm profile reads it without raising, keeps its examples
bounded and only emits its own codes (hypothesis)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sse_doctor.model import Close, SseObservation
from sse_doctor.profiles.llm import PROFILE
from sse_doctor.profiles.llm.checks import CODES, check
from sse_doctor.profiles.llm.protocol import MAX_EXAMPLES, LlmInterpreter
from sse_doctor.sse.parser import Event

KEYS = ["type", "object", "choices", "delta", "content", "finish_reason", "index", "usage",
        "completion_tokens", "output_tokens", "error", "message", "sequence_number",
        "response", "stop_reason", "model", "content_block", "text", "status",
        "incomplete_details", "reason", "tool_calls", "function", "arguments"]
WORDS = ["chat.completion.chunk", "message_start", "content_block_start",
         "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping",
         "error", "response.created", "response.output_text.delta", "response.completed",
         "response.failed", "stop", "", "[DONE]"]
scalars = st.none() | st.booleans() | st.integers(-3, 5) | st.sampled_from(WORDS) | st.text(
    max_size=5)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
                      max_leaves=12)
ODD = ["[DONE]", ": keepalive", "", "ping", '{"type": "mess', 'age_start"}']
payloads = st.one_of(values.map(json.dumps), st.sampled_from(ODD), st.text(max_size=8))
events = st.lists(st.tuples(st.sampled_from(["message", *WORDS[1:10]]), payloads), max_size=40)


@settings(max_examples=300, deadline=None)
@given(events, st.sampled_from([None, "openai-chat", "openai-responses", "anthropic"]),
       st.sampled_from(["server", "transport", "deadline", "client"]))
def test_any_stream_is_read_without_raising(items, dialect, close_by) -> None:
    interp = LlmInterpreter(dialect, usage_requested=True)
    interp.head(200, [("content-type", "text/event-stream")])
    interp.feed([Event(type=t, data=d, id="", retry=None, t=float(i))
                 for i, (t, d) in enumerate(items)])
    obs = SseObservation(url="http://x/", status=200,
                         headers=[("content-type", "text/event-stream")])
    obs.end_ms = float(len(items) + 1)
    obs.close = Close(close_by, obs.end_ms)
    result = interp.result(obs)
    json.dumps(result.to_json())  # JSON-ready, whatever came
    s = result.state
    for problem in (s.errors, s.invalid, s.split, s.keepalives, s.empty_finish, s.violations):
        assert len(problem.examples) <= MAX_EXAMPLES and problem.count >= len(problem.examples)
    findings = check(s, 0.001)
    assert {f.code for f in findings} <= set(CODES)
    assert PROFILE.detect("http://x/", [], [Event(type=t, data=d, id="", retry=None, t=0.0)
                                            for t, d in items]) in (
        None, "openai-chat", "openai-responses", "anthropic")
