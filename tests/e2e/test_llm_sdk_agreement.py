"""The llm profile's second opinion against the real thing: the official openai and
anthropic SDKs read the lab's LLM routes, and the profile must have said what they do (read,
stop at the terminal, raise which exception) and measured the same answer."""

from __future__ import annotations

import asyncio
import json

import anthropic
import openai
import pytest

from sse_doctor.commandline import parse_args
from sse_doctor.lab.llm_routes import TOKENS
from sse_doctor.lab.scenarios import DEMO_ARGS, get_scenario
from sse_doctor.plan import plan_command

TEXT = "".join(TOKENS)


def profile_of(lab, name: str) -> tuple[dict, set[str]]:
    """Probe a lab LLM scenario in-process (the CLI's own planner and runner)."""
    s = get_scenario(name)
    plan = plan_command("probe", parse_args("probe", [lab.url(s.path), *DEMO_ARGS,
                                                          *s.probe_args]))
    [result] = asyncio.run(plan.run(name))
    assert result.profile is not None, name
    return result.profile.to_json(), {f.code for f in result.findings}


def sdk_step(profile: dict) -> dict:
    [step] = [s for s in profile["steps"] if s["step"].endswith("-sdk")]
    return step


def read_openai_chat(lab, variant: str) -> tuple[str | None, str, list]:
    client = openai.OpenAI(base_url=lab.url(f"/llm/openai/{variant}/v1"), api_key="lab",
                           max_retries=0, timeout=20)
    chunks: list = []
    try:
        for chunk in client.chat.completions.create(
                model="lab-gpt", messages=[{"role": "user", "content": "Say hello."}],
                stream=True, stream_options={"include_usage": True}):
            chunks.append(chunk)
    except Exception as exc:  # noqa: BLE001 - which exception is the point
        return type(exc).__name__, str(exc), chunks
    return None, "", chunks


def read_anthropic(lab, variant: str) -> tuple[str | None, list]:
    client = anthropic.Anthropic(base_url=lab.url(f"/llm/anthropic/{variant}"), api_key="lab",
                                 max_retries=0, timeout=20)
    events: list = []
    try:
        for event in client.messages.create(
                model="lab-claude", max_tokens=64, stream=True,
                messages=[{"role": "user", "content": "Say hello."}]):
            events.append(event)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, events
    return None, events


def test_healthy_chat_stream_reads_the_same_through_the_openai_sdk(lab) -> None:
    raised, _, chunks = read_openai_chat(lab, "healthy")
    assert raised is None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices
              and c.choices[0].finish_reason is not None]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert text == TEXT and finish == ["stop"] and usage[0].completion_tokens == len(TOKENS)
    profile, codes = profile_of(lab, "llm-openai-healthy")
    m = profile["metrics"]
    assert codes == set() and profile["dialect"] == "openai-chat"
    assert (m["output_tokens"], m["tokens_exact"]) == (usage[0].completion_tokens, True)
    assert m["finish_reason"] == finish[0] and m["model"] == chunks[0].model
    assert sdk_step(profile)["status"] == "stops"


def test_healthy_responses_stream_reads_the_same_through_the_openai_sdk(lab) -> None:
    client = openai.OpenAI(base_url=lab.url("/llm/responses/healthy/v1"), api_key="lab",
                           max_retries=0, timeout=20)
    events = list(client.responses.create(model="lab-gpt", input="Say hello.", stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    [done] = [e for e in events if e.type == "response.completed"]
    assert deltas == TEXT and done.response.usage.output_tokens == len(TOKENS)
    profile, codes = profile_of(lab, "llm-responses-healthy")
    assert codes == set() and profile["dialect"] == "openai-responses"
    m = profile["metrics"]
    assert m["output_tokens"] == done.response.usage.output_tokens and m["tokens_exact"]
    assert m["finish_reason"] == done.response.status == "completed"
    assert m["model"] == done.response.model


def test_healthy_anthropic_stream_reads_the_same_through_the_anthropic_sdk(lab) -> None:
    raised, events = read_anthropic(lab, "healthy")
    assert raised is None
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    [delta] = [e for e in events if e.type == "message_delta"]
    assert text == TEXT and delta.delta.stop_reason == "end_turn"
    client = anthropic.Anthropic(base_url=lab.url("/llm/anthropic/healthy"), api_key="lab",
                                 max_retries=0, timeout=20)
    with client.messages.stream(model="lab-claude", max_tokens=64,
                                messages=[{"role": "user", "content": "Say hello."}]) as s:
        final = s.get_final_message()
    assert final.content[0].text == TEXT
    profile, codes = profile_of(lab, "llm-anthropic-healthy")
    m = profile["metrics"]
    assert codes == set() and profile["dialect"] == "anthropic"
    assert m["output_tokens"] == final.usage.output_tokens and m["tokens_exact"]
    assert m["finish_reason"] == final.stop_reason and m["model"] == final.model
    assert sdk_step(profile)["status"] == "reads"


# variant -> the exception the OpenAI SDK raises (None: it reads to its end)
CHAT_OUTCOMES = {
    "no-done": None,
    "error": "APIError",
    "keepalive": "JSONDecodeError",
    "split-json": "JSONDecodeError",
    "empty-finish": None,
    "no-usage": None,
    "after-done": None,
    "buffered": None,
}


@pytest.mark.parametrize("variant", sorted(CHAT_OUTCOMES))
def test_the_profile_says_what_the_openai_sdk_does(lab, variant: str) -> None:
    raised, message, chunks = read_openai_chat(lab, variant)
    assert raised == CHAT_OUTCOMES[variant]
    profile, _ = profile_of(lab, f"llm-openai-{variant}")
    step = sdk_step(profile)
    if raised is None:
        assert step["status"] in ("stops", "reads"), step
        if variant == "after-done":  # the chunk after [DONE] never reaches the SDK's user
            assert "(one more)" not in json.dumps([c.model_dump() for c in chunks])
            assert "never read" in step["detail"]
    else:
        assert step["status"] == "raises" and raised in step["detail"], step
        if raised == "APIError":
            assert message in step["detail"]


def test_the_profile_says_what_the_anthropic_sdk_does(lab) -> None:
    raised, events = read_anthropic(lab, "error")
    assert raised is not None and issubclass(getattr(anthropic, raised), anthropic.APIStatusError)
    profile, _ = profile_of(lab, "llm-anthropic-error")
    assert sdk_step(profile)["status"] == "raises" and "APIStatusError" in \
        sdk_step(profile)["detail"]

    # Out of order: the raw stream reads on, the stream helper raises on the orphan delta.
    raised, events = read_anthropic(lab, "out-of-order")
    assert raised is None
    client = anthropic.Anthropic(base_url=lab.url("/llm/anthropic/out-of-order"),
                                 api_key="lab", max_retries=0, timeout=20)
    with pytest.raises(IndexError), client.messages.stream(
            model="lab-claude", max_tokens=64,
            messages=[{"role": "user", "content": "Say hello."}]) as s:
        s.get_final_message()
    profile, codes = profile_of(lab, "llm-anthropic-out-of-order")
    assert codes == {"llm-sequence-violation"}
    assert "IndexError" in sdk_step(profile)["detail"]


def test_without_done_on_an_open_stream_the_openai_sdk_never_stops(lab) -> None:
    """The answer is complete, keepalive comments go on: the SDK's loop does not end (the
    comments keep its read timeout from firing either), as the profile says."""

    async def read() -> tuple[bool, bool]:
        client = openai.AsyncOpenAI(base_url=lab.url("/llm/openai/hang/v1"), api_key="lab",
                                    max_retries=0, timeout=2)
        got_usage = asyncio.Event()

        async def loop() -> None:
            stream = await client.chat.completions.create(
                model="lab-gpt", messages=[{"role": "user", "content": "Say hello."}],
                stream=True, stream_options={"include_usage": True})
            async for chunk in stream:
                if chunk.usage is not None:
                    got_usage.set()

        task = asyncio.ensure_future(loop())
        try:
            await asyncio.wait_for(got_usage.wait(), 20)  # the whole answer arrived
            done, _ = await asyncio.wait({task}, timeout=3.0)  # over the 2 s read timeout
            return got_usage.is_set(), not done  # ... and the loop still waits
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.close()

    assert asyncio.run(read()) == (True, True)
    profile, codes = profile_of(lab, "llm-openai-hang")
    assert codes == {"llm-missing-terminal", "stalled-stream"}
    assert sdk_step(profile)["status"] == "waits"
