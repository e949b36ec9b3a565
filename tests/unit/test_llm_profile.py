"""The llm profile's pure core: recorded lab streams (fixtures/llm, made by
tests/support/make_llm_fixtures.py) and hand-built edge cases replayed through the same recorder,
interpreter and checks the live probe uses."""

from __future__ import annotations

import json
import pathlib

import pytest

from sse_doctor.profiles.llm.protocol import MAX_GAPS, LlmInterpreter
from tests.support.recordings import (
    DONE,
    ROLE,
    USAGE,
    chunk,
    diagnose,
    healthy,
    stream,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "llm"




def codes(rec: dict, args: tuple[str, ...] = ()) -> set[str]:
    return {f.code for f in diagnose(rec, args).findings}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_lab_stream_gets_its_diagnosis(path: pathlib.Path) -> None:
    rec = json.loads(path.read_text())
    result = diagnose(rec, rec["probe_args"])
    assert {f.code for f in result.findings} == set(rec["expect"])
    assert result.profile is not None and result.profile.name == "llm"
    assert set(result.checks_run) >= {"llm-missing-terminal", "llm-slow-first-token"}
    assert "no-event-ids" not in result.checks_run  # declared irrelevant, not a testcase


@pytest.mark.parametrize(("name", "dialect", "finish_reason", "terminal"), [
    ("llm-openai-healthy", "openai-chat", "stop", "[DONE]"),
    ("llm-anthropic-healthy", "anthropic", "end_turn", "message_stop"),
    ("llm-responses-healthy", "openai-responses", "completed", "response.completed"),
])
def test_healthy_streams_get_their_metrics(name, dialect, finish_reason, terminal) -> None:
    rec = json.loads((FIXTURES / f"{name}.json").read_text())
    p = diagnose(rec, rec["probe_args"]).profile
    m = p.metrics
    assert p.dialect == dialect and p.detected == "data"
    assert (m["output_tokens"], m["tokens_exact"]) == (13, True)
    assert m["finish_reason"] == finish_reason and m["terminal"] == terminal
    assert m["model"] in ("lab-gpt", "lab-claude")
    first_data = min(t for t, _ in rec["chunks"])
    assert m["ttft_ms"] >= first_data and m["tokens_per_s"] > 0
    assert 0 < m["itl_ms"]["p50"] <= m["itl_ms"]["p95"] <= m["itl_ms"]["max"]
    assert [s.step for s in p.steps][:1] == ["first-token"]


# --- hand-built streams ----------------------------------------------------------------------








def test_a_healthy_chat_stream_is_healthy_and_ttft_skips_the_role_chunk() -> None:
    result = diagnose(stream(*healthy()))
    assert {f.code for f in result.findings} == set()
    m = result.profile.metrics
    assert m["ttft_ms"] == 30.0  # the role-only chunk at 20 ms is not a token
    assert m["first_answer_ms"] == 30.0 and (m["reasoning_deltas"], m["tool_call_deltas"]) == (0, 0)
    assert (m["output_tokens"], m["tokens_exact"]) == (7, True)
    assert m["itl_ms"] == {"p50": 10.0, "p95": 10.0, "max": 10.0}


def test_without_usage_tokens_are_counted_deltas_marked_approximate() -> None:
    rec = stream(ROLE, chunk("a"), chunk("b"), chunk("c"), chunk(None, "stop"), DONE,
                 body='{"stream": true}')
    result = diagnose(rec)
    m = result.profile.metrics
    assert (m["output_tokens"], m["tokens_exact"]) == (3, False)
    assert m["tokens_per_s"] == 100.0  # 2 tokens after the first in 20 ms
    assert {f.code for f in result.findings} == set()  # usage was not asked for


def test_a_window_that_runs_out_is_a_missing_terminal_and_the_sdk_would_wait() -> None:
    result = diagnose(stream(ROLE, chunk("a"), end=4000.0, by="deadline"))
    [f] = [f for f in result.findings if f.code.startswith("llm-")]
    assert f.code == "llm-missing-terminal" and "window ran out" in f.detail
    assert "still waiting" in f.detail
    sdk = [s for s in result.profile.steps if s.step == "openai-sdk"][0]
    assert sdk.status == "waits"


def test_stopping_at_max_events_is_not_a_missing_terminal() -> None:
    assert "llm-missing-terminal" not in codes(stream(ROLE, chunk("a"), by="client"))


def test_an_error_object_before_any_chunk_is_recognised_with_profile_llm() -> None:
    # vLLM and gateways answer 200 and then only an error: auto cannot recognise it, the flag
    # reads it from the start.
    err = 'data: {"error": {"message": "model overloaded", "code": 503}}\n\n'
    rec = stream(err)
    assert "llm-error-in-stream" not in codes(rec)
    result = diagnose(rec, ("--profile", "llm"))
    [f] = [f for f in result.findings if f.code.startswith("llm-")]
    assert f.code == "llm-error-in-stream" and "model overloaded" in f.detail
    assert "openai.APIError" in f.detail


@pytest.mark.parametrize("keepalive", ["data: : keepalive\n\n", "data:\n\n", "data: ping\n\n"])
def test_data_line_keepalives_are_nonstandard(keepalive: str) -> None:
    assert codes(stream(*healthy(keepalive))) == {"llm-nonstandard-keepalive"}


def test_a_comment_keepalive_is_fine() -> None:
    assert codes(stream(*healthy(": keepalive\n"))) == set()


def test_json_cut_across_events_is_invalid_json_and_says_so() -> None:
    text = chunk("x")[len("data: "):-2]
    split = f"data: {text[:30]}\n\ndata: {text[30:]}\n\n"
    result = diagnose(stream(*healthy(split)))
    [f] = result.findings
    assert f.code == "llm-invalid-json" and "cut in two" in f.detail
    assert f.evidence["split"] == 1


@pytest.mark.parametrize("payload", ['data: [1, 2]\n\n', 'data: "text"\n\n',
                                     'data: {"unterminated\n\n'])
def test_a_payload_that_is_not_a_json_object_is_invalid(payload: str) -> None:
    assert codes(stream(*healthy(payload))) == {"llm-invalid-json"}


def test_empty_finish_reason_and_missing_finish_reason() -> None:
    empty = stream(ROLE, chunk("a", ""), chunk("b", ""), chunk(None, "stop"), USAGE, DONE)
    [f] = diagnose(empty).findings
    assert f.code == "llm-no-finish-reason" and "empty string" in f.detail
    assert f.evidence["count"] == 2
    none = stream(ROLE, chunk("a"), chunk("b"), USAGE, DONE)
    assert codes(none) == {"llm-no-finish-reason"}


def test_usage_missing_only_when_asked_for() -> None:
    rec = stream(ROLE, chunk("a"), chunk(None, "stop"), DONE)
    assert codes(rec) == {"llm-usage-missing"}
    rec["body"] = '{"stream": true}'
    assert codes(rec) == set()


def test_data_after_done_is_a_sequence_violation_the_sdk_never_reads() -> None:
    result = diagnose(stream(*healthy(), chunk("late")))
    [f] = result.findings
    assert f.code == "llm-sequence-violation" and "after the terminal" in f.detail
    sdk = [s for s in result.profile.steps if s.step == "openai-sdk"][0]
    assert sdk.status == "stops" and "1 event(s) after it are never read" in sdk.detail


def test_slow_first_token_only_with_a_limit() -> None:
    rec = stream(ROLE, chunk("a"), chunk(None, "stop"), USAGE, DONE, gap=800.0)
    assert codes(rec) == set()
    [f] = diagnose(rec, ("--ttft-limit", "0.5")).findings
    assert f.code == "llm-slow-first-token" and f.evidence["ttft_ms"] == 820.0
    assert codes(rec, ("--ttft-limit", "1")) == set()


# --- Anthropic and Responses edge cases -------------------------------------------------------
def a(kind: str, **fields: object) -> str:
    return f"event: {kind}\ndata: " + json.dumps({"type": kind, **fields}) + "\n\n"


START = a("message_start", message={"model": "claude", "usage": {"output_tokens": 1}})


def anthropic_answer(*blocks: str) -> list[str]:
    return [START, *blocks,
            a("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 2}),
            a("message_stop")]


def block(i: int, *texts: str) -> list[str]:
    return [a("content_block_start", index=i, content_block={"type": "text", "text": ""}),
            *[a("content_block_delta", index=i, delta={"type": "text_delta", "text": t})
              for t in texts],
            a("content_block_stop", index=i)]


def test_anthropic_two_blocks_in_order_are_healthy() -> None:
    result = diagnose(stream(*anthropic_answer(*block(0, "a"), a("ping"), *block(1, "b"))))
    assert {f.code for f in result.findings} == set()
    assert result.profile.metrics["output_tokens"] == 2


@pytest.mark.parametrize(("events", "words"), [
    ([*block(1, "a")], "block 1 starts"),
    ([a("content_block_start", index=0, content_block={}),
      a("content_block_start", index=1, content_block={})], "while block 0 is open"),
    ([*block(0, "a"), a("content_block_stop", index=0)], "not open"),
])
def test_anthropic_blocks_out_of_order(events: list[str], words: str) -> None:
    [f] = [f for f in diagnose(stream(*anthropic_answer(*events))).findings
           if f.code.startswith("llm-")]
    assert f.code == "llm-sequence-violation" and words in f.detail


def test_anthropic_without_event_names_reads_as_nothing_through_the_sdk() -> None:
    data_only = [e.split("\n", 1)[1] for e in anthropic_answer(*block(0, "a"))]
    result = diagnose(stream(*data_only))
    sdk = [s for s in result.profile.steps if s.step == "anthropic-sdk"][0]
    assert sdk.status == "reads nothing" and "no 'event:' field" in sdk.detail


def test_responses_repeated_sequence_number_and_a_failed_response() -> None:
    def r(kind: str, seq: int, **fields: object) -> str:
        return a(kind, sequence_number=seq, **fields)

    resp = {"model": "m", "status": "failed", "error": {"message": "rate limited"}}
    rec = stream(r("response.created", 0, response={"model": "m"}),
                 r("response.output_text.delta", 1, delta="a"),
                 r("response.output_text.delta", 1, delta="b"),
                 r("response.failed", 2, response=resp))
    found = {f.code: f for f in diagnose(rec).findings}
    assert set(found) == {"llm-sequence-violation", "llm-error-in-stream"}
    assert "repeats 1" in found["llm-sequence-violation"].detail
    assert "rate limited" in found["llm-error-in-stream"].detail


def test_the_interpreter_keeps_memory_bounded_on_an_endless_answer() -> None:
    from sse_doctor.sse.parser import Event

    interp = LlmInterpreter("openai-chat")
    line = json.loads(chunk("x")[len("data: "):])
    data = json.dumps(line)
    for i in range(MAX_GAPS + 500):
        interp.feed([Event(type="message", data=data, id="", retry=None, t=float(i))])
    interp.feed([Event(type="message", data="data: oops", id="", retry=None, t=1e9)] * 50)
    interp.feed([Event(type="message", data=data, id="", retry=None, t=1e9)])
    s = interp.s
    assert len(s.gaps) == MAX_GAPS and s.deltas == MAX_GAPS + 501
    assert s.invalid.count == 50 and len(s.invalid.examples) <= 5
    assert s.gap_max == 1e9 - (MAX_GAPS + 499)


def test_reasoning_stops_the_first_token_clock_but_not_the_first_answer_one() -> None:
    think = "data: " + json.dumps({"object": "chat.completion.chunk", "model": "m", "choices": [
        {"index": 0, "delta": {"reasoning_content": "hmm"}, "finish_reason": None}]}) + "\n\n"
    result = diagnose(stream(ROLE, think, think, think, chunk("Hi"), chunk(None, "stop"), USAGE,
                             DONE))
    m = result.profile.metrics
    assert (m["ttft_ms"], m["first_answer_ms"], m["reasoning_deltas"]) == (30.0, 60.0, 3)
    steps = [s.step for s in result.profile.steps]
    assert steps[:2] == ["first-token", "first-answer-token"]
