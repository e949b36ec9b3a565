"""The lab's load table: which `sse-doctor load` run the demo makes on which lab route, and the
fleet findings it must produce (an empty set means healthy). Small on purpose: a few hundred
streams for a few seconds, on 127.0.0.1. The demo runs the rows (sse_doctor.demo_load).
"""

from __future__ import annotations

from dataclasses import dataclass

# Every row: two workers, a 2 s hold, no --fail-on (the expected codes are compared instead).
LOAD_DEMO_ARGS: tuple[str, ...] = ("--workers", "2", "--duration", "2", "--idle-limit", "3")


@dataclass(frozen=True)
class LabLoad:
    name: str
    path: str  # route with its query
    models: str
    args: tuple[str, ...]  # extra CLI args after the URL
    expect: frozenset[str]
    demo_args: tuple[str, ...] = LOAD_DEMO_ARGS  # the options every row of its kind gets
    kind: str = "streams"  # "streams" (the stream engine) or "llm" (load --profile llm)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "path": self.path, "models": self.models,
                "args": list(self.args), "expect": sorted(self.expect)}


LOAD_SCENARIOS: tuple[LabLoad, ...] = (
    LabLoad("load-healthy", "/sse/clock?interval=0.5&spread=1",
            "a server that holds every stream: heartbeats on time at any stream count",
            ("--streams", "200", "--ramp", "200"), frozenset()),
    LabLoad("load-limit", "/sse/load-limit?max=150&interval=0.5",
            "a server capped at 150 concurrent streams: 503 with Retry-After above it",
            ("--streams", "300", "--ramp", "200"), frozenset({"load-refused"})),
    LabLoad("load-drop", "/sse/load-drop?keep=150&after=1&interval=0.5",
            "a server over capacity: streams beyond the 150th break after 1 s",
            ("--streams", "300", "--ramp", "200"), frozenset({"load-dropped"})),
    LabLoad("load-lag", "/sse/load-lag?per_stream_ms=1&interval=0.5",
            "a broadcast loop that awaits each client: heartbeats 1 ms late per open stream",
            ("--streams", "300", "--ramp", "100"), frozenset({"load-degraded"})),
    LabLoad("load-garbage", "/sse/garbage",
            "a server that answers every stream with random bytes: 200 OK, no events",
            ("--streams", "100", "--ramp", "200"), frozenset({"load-malformed"})),
)


# load --profile llm: one short sweep on the queueing completion route (2 generation slots,
# answers of about 0.15 s): TTFT p50 grows about 4x from 1 to 4 in flight, tokens/s stops at 2.
LLM_LOAD_BODY = ('{"model":"lab-gpt","stream":true,"stream_options":{"include_usage":true},'
                 '"messages":[{"role":"user","content":"hi"}]}')
LLM_LOAD_SCENARIOS: tuple[LabLoad, ...] = (
    LabLoad("llm-load-queue",
            "/llm/queue/v1/chat/completions?limit=2&ttft_ms=30&length=12&itl_ms=10",
            "a model server with 2 generation slots: the others wait in its queue (the knee)",
            ("--profile", "llm", "-X", "POST", "-d", LLM_LOAD_BODY, "--sweep", "1,2,4",
             "--requests", "12"),
            frozenset({"llm-load-queueing", "llm-load-saturated"}), demo_args=(),
            kind="llm"),
)


def get_load_scenario(name: str) -> LabLoad:
    for row in (*LOAD_SCENARIOS, *LLM_LOAD_SCENARIOS):
        if row.name == name:
            return row
    raise KeyError(name)


def load_argv(row: LabLoad, base_url: str) -> list[str]:
    """The `sse-doctor` arguments of a row against a lab at ``base_url``."""
    return ["load", base_url.rstrip("/") + row.path, *row.demo_args, *row.args]
