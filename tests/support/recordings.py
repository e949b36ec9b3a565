"""Hand-built recordings for the checks' unit tests: SSE streams (`make`, `ev`) and LLM
completion streams (`stream`, `chunk`, ROLE/USAGE/DONE, `diagnose` as the probe concludes)."""

from __future__ import annotations

import json

from sse_doctor.conclude.probe import sse_result
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.profiles import finish
from sse_doctor.sse.replay import replay

SSE_HEADERS = [["content-type", "text/event-stream"], ["cache-control", "no-cache"]]


def make(chunks: list[tuple[float, str]], *, end: float, by: str = "deadline",
         head_ms: float = 5.0, headers: list | None = None, window: float = 10.0) -> dict:
    return {"window_s": window,
            "head": {"t_ms": head_ms, "status": 200, "headers": headers or SSE_HEADERS},
            "chunks": [[t, text] for t, text in chunks], "end": {"by": by, "t_ms": end}}


def ev(i: int, kind: str = "tick") -> str:
    return f"id: {i}\nevent: {kind}\ndata: {{\"n\": {i}}}\n\n"


CHAT_BODY = '{"model":"m","stream":true,"stream_options":{"include_usage":true}}'


def diagnose(rec: dict, args: list[str] | tuple[str, ...] = ()):  # noqa: ANN201
    """What `probe` concludes from this recording, with these arguments."""
    target, opts, _ = plan_probe(probe_values([rec.get("url", "http://llm.invalid/v1"),
                                               "-X", "POST", "-d", rec.get("body") or "{}",
                                               *args]))
    choice = opts.profile
    if choice.profile is not None:  # --profile llm: the interpreter reads from the start
        interp = choice.profile.interpreter(target, choice.popts)
        obs = replay(rec, opts, interp)
        return finish(choice.profile, "probe", target, opts, choice.popts, obs,
                      interp.result(obs))
    tap = choice.tap(target)
    return sse_result(target, opts, replay(rec, opts, tap), tap)


def stream(*events: str, end: float | None = None, by: str = "server",
           body: str = CHAT_BODY, gap: float = 10.0) -> dict:
    """A recording: one event per chunk, `gap` ms apart."""
    chunks = [[20.0 + i * gap, e] for i, e in enumerate(events)]
    end = end if end is not None else 20.0 + len(events) * gap
    return {"url": "http://llm.invalid/v1/chat/completions", "body": body, "window_s": 10.0,
            "head": {"t_ms": 5.0, "status": 200, "headers": SSE_HEADERS},
            "chunks": chunks, "end": {"by": by, "t_ms": end}}


def chunk(content: str | None = None, finish: str | None = None, **extra: object) -> str:
    delta = {} if content is None else {"content": content}
    doc = {"id": "c", "object": "chat.completion.chunk", "model": "m",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return "data: " + json.dumps(doc) + "\n\n"


ROLE = "data: " + json.dumps({"object": "chat.completion.chunk", "model": "m", "choices": [
    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}) + "\n\n"


USAGE = "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [],
                               "usage": {"completion_tokens": 7}}) + "\n\n"


DONE = "data: [DONE]\n\n"


def healthy(*middle: str) -> list[str]:
    return [ROLE, chunk("Hi"), *middle, chunk(" there"), chunk(None, "stop"), USAGE, DONE]
