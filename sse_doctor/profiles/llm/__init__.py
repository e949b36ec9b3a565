"""The LLM profile: token streams of OpenAI-compatible chat completions, the OpenAI
Responses API and Anthropic Messages. It reads the stream the user's own request opens
(``-X POST -d @body.json``), so it drives no conversation of its own; ``--profile auto``
recognises it from the first data payloads."""

from __future__ import annotations

import json
from typing import Any

from sse_doctor.model import Finding, ProbeOptions
from sse_doctor.profiles.base import Profile
from sse_doctor.profiles.core import ProfileResult
from sse_doctor.profiles.llm.checks import CODES, check
from sse_doctor.profiles.llm.protocol import LlmInterpreter, dialect_of, usage_requested
from sse_doctor.target import Target


class LlmProfile(Profile):
    name = "llm"
    schemes = frozenset({"sse"})
    auto = True
    codes = CODES
    # What the bytes already showed stands after Ctrl-C; a missing terminal, finish reason
    # or usage, or a slow first token, needed the whole answer.
    partial_stands = frozenset({"llm-error-in-stream", "llm-invalid-json",
                                "llm-nonstandard-keepalive", "llm-sequence-violation"})

    def options(self, params: dict[str, Any]) -> float | None:
        return params.get("ttft_limit")

    def detect(self, url: str, headers: list[tuple[str, str]], first: list[Any]) -> str | None:
        from sse_doctor.sse.parser import Event

        for item in first:
            if type(item) is Event:
                try:
                    doc = json.loads(item.data)
                except ValueError:
                    continue
                found = dialect_of(doc)
                if found is not None:
                    return found
        return None

    def interpreter(self, target: Target, popts: Any,
                    dialect: str | None = None) -> LlmInterpreter:
        return LlmInterpreter(dialect, usage_requested(target.body))

    def check(self, result: ProfileResult, obs: Any, opts: ProbeOptions,
              popts: Any) -> list[Finding]:
        return check(result.state, popts)

    def irrelevant(self, result: ProfileResult) -> frozenset[str]:
        # A completion is one answer, not a resumable feed: ids and a browser's reconnect
        # after the end say nothing about it (llm-missing-terminal covers an unfinished one).
        return frozenset({"no-event-ids", "stream-ended"})


PROFILE = LlmProfile()
