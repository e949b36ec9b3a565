"""Fleet-level checks of `load --profile llm` (load.llm.observation): pure, so they run the
same on a live run and on levels built in a test."""

from __future__ import annotations

from sse_doctor.checks.watch_checks import leak_findings
from sse_doctor.load.llm.aggregate import Level, past_knee
from sse_doctor.load.llm.observation import LlmLoadObservation
from sse_doctor.model import Finding, finding

LLM_LOAD_CHECKS = ["llm-load-errors", "llm-load-queueing", "llm-load-saturated",
                   "llm-load-cancel-ignored"]

FAILED_SHARE = 0.01  # a share of the decided requests at least this large (and one) is a finding
# llm-load-queueing: TTFT p50 at the top level is QUEUE_RATIO times the first level's and at
# least QUEUE_MIN_MS more, while the inter-token latency p50 grew less than ITL_HOLDS times.
QUEUE_RATIO = 3.0
QUEUE_MIN_MS = 100.0
ITL_HOLDS = 1.5
# llm-load-saturated: the levels above the knee add at least SAT_LOAD times the load but less
# than SAT_GAIN more output tokens a second.
SAT_LOAD = 1.5
SAT_GAIN = 1.2


def _ms(x: float | None) -> str:
    return "-" if x is None else (f"{x:.0f} ms" if x < 10_000 else f"{x / 1000:.1f} s")


def _name(lv: Level) -> str:
    return f"concurrency {lv.level:g}" if lv.mode == "concurrency" else f"{lv.level:g} req/s"


def check_errors(obs: LlmLoadObservation) -> list[Finding]:
    bad = [lv for lv in obs.levels if lv.failed and lv.failed >= FAILED_SHARE * lv.decided]
    if not bad:
        return []
    total = sum(lv.failed for lv in obs.levels)
    decided = sum(lv.decided for lv in obs.levels)
    kinds: dict[str, int] = {}
    for lv in obs.levels:
        for k, n in lv.failures.items():
            kinds[k] = kinds.get(k, 0) + n
    first = bad[0]
    kind = max(first.failures, key=lambda k: first.failures[k])
    example = first.examples[kind][0]
    where = f" from {_name(first)} on" if len(obs.levels) > 1 else ""
    detail = (f"{total} of {decided} requests failed{where}: "
              + ", ".join(f"{k} ({n})" for k, n in sorted(kinds.items(), key=lambda x: -x[1]))
              + f". For example request #{example['request']}: "
              + example["detail"].rstrip(".") + "."
              " None of them is counted as a success.")
    return [finding("llm-load-errors", detail, failed=total, requests=decided, by_kind=kinds,
                    first_level=first.level)]


def check_queueing(obs: LlmLoadObservation) -> list[Finding]:
    levels = [lv for lv in obs.levels if lv.succeeded]
    if len(levels) < 2:
        return []
    first, top = levels[0], levels[-1]
    t0, t1 = first.p("ttft_ms", 0.5), top.p("ttft_ms", 0.5)
    i0, i1 = first.p("itl_ms", 0.5), top.p("itl_ms", 0.5)
    if None in (t0, t1, i0, i1):
        return []
    assert t0 is not None and t1 is not None and i0 is not None and i1 is not None
    if not (t1 >= QUEUE_RATIO * t0 and t1 - t0 >= QUEUE_MIN_MS and i1 < ITL_HOLDS * i0):
        return []
    knee = obs.knee
    at = f"; the knee is at {knee.level:g} ({knee.reason})" if knee is not None else ""
    detail = (f"Time to first token p50 grew from {_ms(t0)} at {_name(first)} to {_ms(t1)} at "
              f"{_name(top)} while the inter-token latency held ({_ms(i0)} -> {_ms(i1)}): "
              f"requests wait in a queue before generation starts{at}.")
    return [finding("llm-load-queueing", detail, ttft_p50_ms=[round(t0, 1), round(t1, 1)],
                    itl_p50_ms=[round(i0, 1), round(i1, 1)],
                    knee=knee.level if knee is not None else None)]


def check_saturated(obs: LlmLoadObservation) -> list[Finding]:
    levels = [lv for lv in obs.levels if lv.tokens_per_s]
    if len(levels) < 3:
        return []
    top = levels[-1]
    # the first level from which no later level gives SAT_GAIN times its tokens/s, though the
    # load grew at least SAT_LOAD times
    base = next((lv for j, lv in enumerate(levels[:-1])
                 if all((later.tokens_per_s or 0) < SAT_GAIN * (lv.tokens_per_s or 0)
                        for later in levels[j + 1:])
                 and top.level >= SAT_LOAD * lv.level), None)
    if base is None:
        return []
    why = past_knee(top, levels[0], obs.settings.slo)
    detail = (f"Output tokens per second stopped growing at {_name(base)} "
              f"({base.tokens_per_s:.0f}/s): {_name(top)} gives {top.tokens_per_s:.0f}/s. "
              "More concurrent requests only wait longer" + (f" ({why})" if why else "") + ".")
    return [finding("llm-load-saturated", detail, saturated_at=base.level,
                    tokens_per_s=[round(lv.tokens_per_s or 0, 1) for lv in levels])]


def check_cancel(obs: LlmLoadObservation) -> list[Finding]:
    if not obs.series or obs.interrupted:
        return []
    if obs.cancelled:
        return leak_findings(obs.series, "llm-load-cancel-ignored", obs.settings.grace,
                             f"the run, which closed {obs.cancelled} completion(s) mid-answer")
    return leak_findings(obs.series, "cleanup-leak", obs.settings.grace, "the run")


def run_llm_load_checks(obs: LlmLoadObservation) -> list[Finding]:
    out: list[Finding] = []
    for check in (check_errors, check_queueing, check_saturated, check_cancel):
        out.extend(check(obs))
    return out
