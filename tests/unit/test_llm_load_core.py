"""load --profile llm, the pure core: a request's record from the LLM interpreter's state
(recorded lab streams and hand-built ones), a level's aggregates, goodput, the knee, the
fleet checks; no sockets."""

from __future__ import annotations

import json
import pathlib
import random

import pytest

from sse_doctor.checks.llm_load_checks import run_llm_load_checks
from sse_doctor.load.llm.aggregate import Level, find_knee, meets, parse_slo
from sse_doctor.load.llm.observation import LlmLoadObservation, LlmLoadSettings
from sse_doctor.load.llm.record import Ending, RequestRecord, record_of
from sse_doctor.load.llm.runner import arrival_times, cancelled_by_plan
from sse_doctor.profiles.llm.protocol import LlmInterpreter
from sse_doctor.sse.parser import SSEParser

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "llm"
SSE = "text/event-stream; charset=utf-8"


def read(chunks: list[tuple[float, str]], usage: bool = False) -> LlmInterpreter:
    interp = LlmInterpreter(None, usage)
    parser = SSEParser()
    for t, text in chunks:
        interp.feed(parser.feed(text.encode(), t))
    interp.feed(parser.close(chunks[-1][0] if chunks else 0.0))
    return interp


def from_fixture(name: str, **ending: object) -> RequestRecord:
    rec = json.loads((FIXTURES / f"{name}.json").read_text())
    interp = read([(t, c) for t, c in rec["chunks"]])
    e = Ending(status=rec["head"]["status"], content_type=SSE, close_by=rec["end"]["by"],
               end_ms=rec["end"]["t_ms"], **ending)  # type: ignore[arg-type]
    return record_of(0, 0.0, interp.s, e)


def chat(delta: dict, finish: str | None = None) -> str:
    doc = {"object": "chat.completion.chunk", "model": "m",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return "data: " + json.dumps(doc) + "\n\n"


ROLE = chat({"role": "assistant", "content": ""})
DONE = "data: [DONE]\n\n"


def test_a_healthy_recorded_answer_is_a_success_with_every_metric() -> None:
    r = from_fixture("llm-openai-healthy")
    assert r.ok and r.kind is None
    assert r.ttft_ms is not None and r.ttft_ms > 77.3  # after the role-only chunk at 77.3 ms
    assert r.first_answer_ms == r.ttft_ms
    assert r.output_tokens == 13 and r.usage_tokens == 13 and r.counted_deltas == 13
    assert r.itl_ms is not None and r.itl_ms > 0 and len(r.gaps) == 12  # the first excluded
    assert r.e2e_ms is not None and r.e2e_ms > r.ttft_ms
    assert r.tpot_ms == pytest.approx((r.e2e_ms - r.ttft_ms) / 12)
    assert r.finish_reason == "stop"


@pytest.mark.parametrize(("name", "kind"), [
    ("llm-openai-error", "error-in-stream"),
    ("llm-anthropic-error", "error-in-stream"),
    ("llm-openai-no-done", "missing-terminal"),
    ("llm-openai-split-json", "invalid-json"),
])
def test_a_recorded_broken_answer_fails_by_its_kind(name: str, kind: str) -> None:
    r = from_fixture(name)
    assert (r.outcome, r.kind) == ("failed", kind) and r.detail


@pytest.mark.parametrize(("ending", "kind"), [
    (Ending(status=429, retry_after="1", content_type="application/json"), "http-429"),
    (Ending(status=503, content_type="application/json"), "http-503"),
    (Ending(unreachable="connection refused: ..."), "connect"),
    (Ending(unreachable="timeout: connected and sent the request, ..."), "timeout"),
    (Ending(status=200, content_type="application/json", close_by="server"),
     "not-event-stream"),
    (Ending(status=200, content_type=SSE, close_by="transport", close_reason="reset"),
     "cut-short"),
    (Ending(status=200, content_type=SSE, close_by="client", stalled=True), "stalled"),
    (Ending(status=200, content_type=SSE, close_by="deadline"), "timeout"),
])
def test_how_a_request_ended_decides_its_failure_kind(ending: Ending, kind: str) -> None:
    interp = read([(10.0, ROLE), (20.0, chat({"content": "a"}))])
    r = record_of(3, 1.5, interp.s, ending)
    assert (r.outcome, r.kind) == ("failed", kind)
    assert r.example()["request"] == 3
    if kind == "http-429":
        assert "Retry-After: 1" in r.detail


def test_a_cancelled_request_is_neither_a_success_nor_a_failure() -> None:
    interp = read([(10.0, ROLE), (20.0, chat({"content": "a"}))])
    r = record_of(0, 0.0, interp.s, Ending(status=200, content_type=SSE, close_by="client",
                                           cancelled=True))
    level = Level(1, "concurrency")
    level.add(r)
    assert (level.cancelled, level.succeeded, level.failed, level.decided) == (1, 0, 0, 0)


def test_reasoning_and_tool_calls_count_apart_and_only_answers_stop_the_answer_clock() -> None:
    call = {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\""}}]}
    interp = read([(5.0, ROLE), (10.0, chat({"content": ""})),  # neither clock stops
                   (30.0, chat({"reasoning_content": "hmm"})),
                   (40.0, chat({"reasoning": "so"})),
                   (90.0, chat(call)), (100.0, chat({"content": "Hi"})),
                   (110.0, chat({}, "stop")), (111.0, DONE)])
    r = record_of(0, 0.0, interp.s, Ending(status=200, content_type=SSE, close_by="server",
                                           end_ms=112.0))
    assert (r.ttft_ms, r.first_answer_ms) == (30.0, 90.0)
    assert (r.reasoning_deltas, r.tool_call_deltas, r.counted_deltas) == (2, 1, 4)
    assert r.gaps == [10.0, 50.0, 10.0]  # ITL: the first token excluded


def test_anthropic_thinking_blocks_and_responses_reasoning_are_reasoning() -> None:
    def ev(kind: str, doc: dict) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **doc})}\n\n"

    anth = read([(1.0, ev("message_start", {"message": {"model": "c"}})),
                 (2.0, ev("content_block_start", {"index": 0, "content_block": {}})),
                 (10.0, ev("content_block_delta", {"index": 0, "delta": {
                     "type": "thinking_delta", "thinking": "let me see"}})),
                 (11.0, ev("content_block_delta", {"index": 0, "delta": {
                     "type": "signature_delta", "signature": "abc"}})),
                 (12.0, ev("content_block_stop", {"index": 0})),
                 (13.0, ev("content_block_start", {"index": 1, "content_block": {}})),
                 (50.0, ev("content_block_delta", {"index": 1, "delta": {
                     "type": "text_delta", "text": "Hi"}}))])
    assert (anth.s.first_token_ms, anth.s.first_answer_ms) == (10.0, 50.0)
    assert (anth.s.reasoning_deltas, anth.s.deltas) == (1, 2)  # a signature is no token
    resp = read([(1.0, ev("response.created", {"sequence_number": 0, "response": {}})),
                 (7.0, ev("response.reasoning_summary_text.delta",
                          {"sequence_number": 1, "delta": "think"})),
                 (20.0, ev("response.output_text.delta",
                           {"sequence_number": 2, "delta": "Hi"}))])
    assert (resp.s.first_token_ms, resp.s.first_answer_ms) == (7.0, 20.0)


def test_usage_and_counted_deltas_disagree_and_the_level_says_by_how_much() -> None:
    usage = ("data: " + json.dumps({"object": "chat.completion.chunk", "choices": [],
                                    "usage": {"completion_tokens": 9}}) + "\n\n")
    interp = read([(1.0, ROLE), (10.0, chat({"content": "two tokens"})),
                   (20.0, chat({"content": " here"})), (21.0, chat({}, "stop")),
                   (22.0, usage), (23.0, DONE)])
    r = record_of(0, 0.0, interp.s, Ending(status=200, content_type=SSE, close_by="server",
                                           end_ms=23.0))
    assert (r.output_tokens, r.counted_deltas) == (9, 2)  # chunks are not tokens
    level = Level(1, "concurrency")
    level.add(r)
    assert (level.discrepancies, level.discrepancy_tokens) == (1, 7)


def ok(ttft: float, gap: float = 10.0, tokens: int = 5, sent: float = 0.0) -> RequestRecord:
    gaps = [gap] * (tokens - 1)
    e2e = ttft + sum(gaps)
    return RequestRecord(index=0, sent_s=sent, outcome="ok", ttft_ms=ttft,
                         first_answer_ms=ttft, itl_ms=gap, gaps=gaps,
                         tpot_ms=(e2e - ttft) / (tokens - 1), e2e_ms=e2e,
                         output_tokens=tokens, counted_deltas=tokens)


def level(value: float, ttfts: list[float], elapsed: float = 1.0, gap: float = 10.0,
          slo: dict | None = None, failures: int = 0, tokens: int = 5) -> Level:
    lv = Level(value, "concurrency", slo or {})
    for t in ttfts:
        lv.add(ok(t, gap, tokens))
    for i in range(failures):
        lv.add(RequestRecord(index=i, sent_s=0.1 * i, outcome="failed", kind="http-429",
                             detail="HTTP 429, Retry-After: 1", status=429))
    lv.elapsed_s = elapsed
    return lv


def test_percentiles_goodput_and_failures_of_a_level() -> None:
    lv = level(4, [float(t) for t in range(1, 101)], elapsed=2.0,
               slo=parse_slo("ttft=90ms,itl=50ms"), failures=4)
    j = lv.to_json()
    ttft = j["metrics"]["ttft_ms"]
    for name, want in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        assert ttft[name] == pytest.approx(want, rel=0.03)  # the histogram's bucket width
    assert ttft["max"] == 100 and ttft["count"] == 100
    assert (j["requests"], j["succeeded"], j["failed"]) == (104, 100, 4)
    assert j["goodput"]["good"] == 90 and j["goodput"]["share"] == pytest.approx(90 / 104, 1e-3)
    assert j["goodput"]["per_s"] == 45.0 and j["output_tokens_per_s"] == 250.0
    assert j["failures"] == {"http-429": 4} and len(j["examples"]["http-429"]) == 3
    assert j["metrics"]["itl_ms"]["count"] == 400  # every gap, the first tokens excluded


@pytest.mark.parametrize(("text", "want"), [
    ("ttft=500ms,itl=50ms", {"ttft_ms": 500.0, "itl_ms": 50.0}),
    ("e2e=1.5s, answer=800", {"e2e_ms": 1500.0, "first_answer_ms": 800.0}),
    ("tpot=20ms", {"tpot_ms": 20.0}),
])
def test_objectives_parse(text: str, want: dict) -> None:
    assert parse_slo(text) == want


@pytest.mark.parametrize("text", ["ttft", "latency=5ms", "ttft=fast", "ttft=0ms", "ttft=5m"])
def test_bad_objectives_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--slo"):
        parse_slo(text)


def test_a_failed_request_never_meets_the_objectives() -> None:
    failed = RequestRecord(index=0, sent_s=0, outcome="failed", kind="error-in-stream",
                           ttft_ms=1.0)
    assert not meets(failed, {}) and meets(ok(1.0), {}) and not meets(ok(600.0), {
        "ttft_ms": 500.0})


def sweep(*ttft_by_level: float, gap: float = 10.0) -> list[Level]:
    levels = []
    for i, t in enumerate(ttft_by_level):
        c = 2 ** i
        levels.append(level(c, [t] * 20, elapsed=1.0, gap=gap,
                            tokens=5 * min(c, 4)))  # tokens/s flat past 4
    return levels


def test_the_knee_without_objectives_is_where_ttft_grows_past_the_unloaded_one() -> None:
    levels = sweep(50, 52, 55, 400, 900)  # limit 4: 8 and 16 queue
    knee = find_knee(levels, {})
    assert knee is not None and (knee.level, knee.last_good) == (8, 4)
    assert find_knee(sweep(50, 52, 55, 60), {}) is None
    assert find_knee(sweep(2, 3, 5, 6), {}) is None  # 2 -> 6 ms on loopback: no knee


def test_the_knee_with_objectives_is_where_ttft_p99_or_goodput_crosses_them() -> None:
    slo = {"ttft_ms": 300.0}
    knee = find_knee([level(c, [t] * 20, slo=slo) for c, t in ((1, 50), (2, 250), (4, 320))],
                     slo)
    assert knee is not None and (knee.level, knee.last_good) == (4, 2)
    assert "objective" in knee.reason
    slo = {"e2e_ms": 100.0}
    good_then_bad = [level(1, [10] * 20, slo=slo), level(2, [10] * 10 + [200] * 10, slo=slo)]
    knee = find_knee(good_then_bad, slo)
    assert knee is not None and knee.level == 2 and "goodput 50%" in knee.reason


def obs_of(levels: list[Level], **settings: object) -> LlmLoadObservation:
    s = LlmLoadSettings(mode="concurrency", levels=[lv.level for lv in levels], requests=20,
                        duration=30.0, **settings)  # type: ignore[arg-type]
    return LlmLoadObservation("http://127.0.0.1/v1", "sse", s, levels, 5.0)


def codes(obs: LlmLoadObservation) -> set[str]:
    return {f.code for f in run_llm_load_checks(obs)}


def test_a_queueing_server_gets_queueing_and_saturation_and_a_healthy_one_nothing() -> None:
    assert codes(obs_of(sweep(50, 52, 55, 400, 900))) == {"llm-load-queueing",
                                                          "llm-load-saturated"}
    healthy = [level(c, [50] * 20, tokens=5 * c) for c in (1, 2, 4, 8)]
    assert codes(obs_of(healthy)) == set()


def test_ttft_that_grows_with_itl_is_not_queueing() -> None:
    slow_everything = [level(1, [50] * 20, gap=10), level(8, [500] * 20, gap=60)]
    assert "llm-load-queueing" not in codes(obs_of(slow_everything))


def test_failures_make_one_error_finding_with_their_kinds_and_an_example() -> None:
    [f] = run_llm_load_checks(obs_of([level(1, [50] * 20), level(2, [50] * 20, failures=3)]))
    assert f.code == "llm-load-errors" and f.evidence["by_kind"] == {"http-429": 3}
    assert "from concurrency 2 on" in f.detail and "Retry-After: 1" in f.detail


def test_the_json_has_one_row_per_level_and_the_knee() -> None:
    j = obs_of(sweep(50, 52, 55, 400, 900)).llm_json()
    assert [row["concurrency"] for row in j["levels"]] == [1, 2, 4, 8, 16]
    assert j["knee"]["level"] == 8 and j["mode"] == "concurrency"
    assert set(j["levels"][0]["metrics"]) == {"ttft_ms", "first_answer_ms", "itl_ms",
                                              "tpot_ms", "e2e_ms"}


def test_cancellation_picks_an_exact_evenly_spread_share() -> None:
    picked = [i for i in range(100) if cancelled_by_plan(i, 0.25)]
    assert len(picked) == 25 and picked[:3] == [3, 7, 11]
    assert not any(cancelled_by_plan(i, 0.0) for i in range(10))


def test_arrivals_constant_and_poisson_at_the_rate() -> None:
    it = arrival_times(4.0, "constant", random.Random(0))
    assert [next(it) for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    it = arrival_times(10.0, "poisson", random.Random(1))
    times = [next(it) for _ in range(2001)]
    assert times[-1] / 2000 == pytest.approx(0.1, rel=0.1)  # mean gap 1/rate


def report_of(obs: LlmLoadObservation):  # noqa: ANN201
    from datetime import datetime, timezone

    from sse_doctor.model import Report, Result

    result = Result(name="load", protocol="sse", url=obs.url,
                    findings=run_llm_load_checks(obs), checks_run=[], observation=obs)
    return Report(command="load", url=obs.url, protocol="sse",
                  started_at=datetime.now(timezone.utc), duration_s=5.0, results=[result])


def test_the_html_report_shows_the_sweep_table_its_charts_and_the_knee() -> None:
    import xml.etree.ElementTree as ET

    from sse_doctor.redact import Redactor
    from sse_doctor.report import html as html_report

    levels = sweep(50, 52, 55, 400, 900)
    levels[4].add(RequestRecord(index=7, sent_s=0.5, outcome="failed", kind="cut-short",
                                detail="the connection broke <b>after</b> 3 token event(s)"))
    doc = html_report.render(report_of(obs_of(levels)), Redactor())
    root = ET.fromstring(doc.split("\n", 1)[1])  # well-formed, everything escaped
    text = "".join(root.itertext())
    assert "Knee at 8" in text
    charts = [s for s in root.iter("svg") if "levelchart" in (s.get("class") or "")]
    assert len(charts) == 2 and "knee" in "".join(charts[0].itertext())
    rows = [tr for tr in root.iter("tr") if len(tr.findall("td")) == 12]
    assert [tr.find("td").text for tr in rows] == ["1", "2", "4", "8", "16"]
    assert "cut-short" in text and "#7: the connection broke <b>after</b>" in text


def test_the_terminal_shows_one_row_per_level_and_the_failures() -> None:
    import io

    from rich.console import Console

    from sse_doctor.load.llm.terminal import render_llm_load
    from sse_doctor.redact import Redactor

    levels = sweep(50, 52, 55, 400)
    levels[3].add(RequestRecord(index=2, sent_s=0.5, outcome="failed", kind="http-429",
                                detail="HTTP 429, Retry-After: 1", status=429))
    out = io.StringIO()
    render_llm_load(Console(file=out, width=120), obs_of(levels), Redactor(), False)
    text = out.getvalue()
    assert "knee  at 8" in text and "last good level: 4" in text
    assert "http-429" in text and "#2: HTTP 429, Retry-After: 1" in text
    assert [line.split()[0] for line in text.splitlines() if line.strip()[:2] in
            ("1 ", "2 ", "4 ", "8 ")] == ["1", "2", "4", "8"]


def plan(*argv: str):  # noqa: ANN201
    from sse_doctor.commandline import parse_args
    from sse_doctor.plan.load import plan_llm_load

    return plan_llm_load(parse_args("load", list(argv)))


def test_a_remote_target_needs_consent_and_is_paced() -> None:
    from sse_doctor.errors import UsageError

    with pytest.raises(UsageError, match="not this machine"):
        plan("https://llm.example.com/v1/chat/completions", "--profile", "llm")
    settings, _, remote = plan("https://llm.example.com/v1/chat/completions", "--profile", "llm",
                               "--i-know-what-i-am-doing", "--concurrency", "8")
    assert remote and settings.remote_rps == 20.0
    with pytest.raises(UsageError, match="at most 20 completions a second"):
        plan("https://llm.example.com/v1", "--profile", "llm", "--i-know-what-i-am-doing",
             "--rate", "50")
    settings, _, remote = plan("http://127.0.0.1:8000/v1", "--profile", "llm", "--rate", "50")
    assert not remote and settings.remote_rps is None
    assert (settings.mode, settings.levels, settings.max_inflight) == ("rate", [50.0], 1000)


def test_the_pacer_spaces_request_starts() -> None:
    import asyncio
    import time

    from sse_doctor.load.llm.runner import Pacer

    async def starts() -> list[float]:
        pacer, out = Pacer(50.0), []
        for _ in range(6):
            await pacer.wait()
            out.append(time.perf_counter())
        return out

    t = asyncio.run(starts())
    # never ahead of the cap: the k-th start at least k/50 s after the first (a late wake-up
    # may bring the next one closer, never the count above the rate)
    assert all(t[k] - t[0] >= k / 50 - 0.002 for k in range(len(t)))
