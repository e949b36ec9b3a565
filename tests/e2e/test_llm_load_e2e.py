"""load --profile llm end to end: the real command line against the lab's queueing LLM route
(one lab for the module: the cancellation test reads its gauge of running generations)."""

from __future__ import annotations

import json

import pytest

from sse_doctor.lab.llm_routes import QUEUE_PATH
from tests.support import cli, start_cli_together

BODY = json.dumps({"model": "m", "stream": True, "stream_options": {"include_usage": True},
                   "messages": [{"role": "user", "content": "hi"}]})
LLM = ("--profile", "llm", "-X", "POST", "-d", BODY, "--json", "-", "--fail-on", "never")
# short answers: 8 tokens 10 ms apart after a 30 ms prefill, about 0.1 s each
QUICK = "ttft_ms=30&length=8&itl_ms=10"


def report(out: str) -> dict:
    return json.loads(out)


def codes(r: dict) -> set[str]:
    return {f["code"] for f in r["findings"]}


def test_a_sweep_finds_the_knee_at_the_routes_concurrency_limit(own_lab) -> None:
    url = own_lab.url(f"{QUEUE_PATH}?limit=2&{QUICK}")
    proc = cli("load", url, *LLM, "--sweep", "1,2,4,8", "--requests", "16", timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = report(proc.stdout)
    llm = r["load"]["llm"]
    assert [row["concurrency"] for row in llm["levels"]] == [1, 2, 4, 8]
    assert all(row["succeeded"] == 16 and row["failed"] == 0 for row in llm["levels"])
    # the limit is 2: the knee is the level after it, or the limit itself
    assert llm["knee"] is not None and llm["knee"]["level"] in (2, 4), llm["knee"]
    assert {"llm-load-queueing", "llm-load-saturated"} <= codes(r)
    ttft = [row["metrics"]["ttft_ms"]["p50"] for row in llm["levels"]]
    assert ttft[3] > 2 * ttft[0]  # queued at 8
    row = llm["levels"][0]
    assert row["output_tokens"]["total"] == 16 * 8 and row["output_tokens"]["discrepancies"] == 0
    # the role-only chunk comes at once, before the slot and the prefill: no clock stops there
    assert row["metrics"]["ttft_ms"]["p50"] >= 30
    assert row["metrics"]["itl_ms"]["count"] == 16 * 7  # the first token of each excluded


FAILS = ("429", "503", "error", "no-done", "invalid-json", "cut", "stall")
KINDS = {"429": "http-429", "503": "http-503", "error": "error-in-stream",
         "no-done": "missing-terminal", "invalid-json": "invalid-json", "cut": "cut-short",
         "stall": "stalled"}


def test_every_error_mode_is_counted_as_its_failure_kind_never_as_a_success(own_lab) -> None:
    runs = start_cli_together({
        fail: ("load", own_lab.url(f"{QUEUE_PATH}?limit=8&{QUICK}&fail={fail}&fail_every=3"
                                   "&stall_s=5"),
               *LLM, "--concurrency", "3", "--requests", "12", "--idle-limit", "1")
        for fail in FAILS})
    for fail, run in runs.items():
        out, err = run.communicate(timeout=90)
        r = report(out)
        llm = r["load"]["llm"]
        assert llm["failures"] == {KINDS[fail]: 4}, (fail, llm["failures"], err)
        assert (llm["succeeded"], llm["failed"]) == (8, 4), fail
        assert codes(r) == {"llm-load-errors"}, fail
        examples = llm["examples"][KINDS[fail]]
        assert 1 <= len(examples) <= 3 and all(e["detail"] for e in examples)
        assert llm["goodput"]["good"] == 8
    assert "Retry-After: 1" in report(runs["429"].communicate(1)[0])["findings"][0]["detail"]


def test_an_open_loop_sends_at_the_rate_whatever_is_in_flight(own_lab) -> None:
    url = own_lab.url(f"{QUEUE_PATH}?limit=50&{QUICK}")
    proc = cli("load", url, *LLM, "--rate", "20", "--arrival", "constant", "--requests", "10",
               "--slo", "ttft=5s,itl=1s", timeout=60)
    r = report(proc.stdout)
    llm = r["load"]["llm"]
    assert (llm["mode"], llm["arrival"], llm["levels"][0]["rate"]) == ("rate", "constant", 20)
    assert (llm["succeeded"], llm["failed"]) == (10, 0)
    assert llm["goodput"]["good"] == 10 and llm["objectives"] == {"ttft_ms": 5000.0,
                                                                  "itl_ms": 1000.0}
    assert codes(r) == set()


def test_cancelled_work_that_goes_on_is_found_and_work_that_stops_is_not(own_lab) -> None:
    # every completion is closed 0.2 s in; the answers take 2 s; the watch is the route's
    # gauge of running generations
    watch = own_lab.url("/llm/queue/state") + "#running"
    outcome = {}
    for mode in ("ignore", "stop"):  # one after the other: they share the gauge
        url = own_lab.url(f"{QUEUE_PATH}?limit=50&ttft_ms=10&length=100&itl_ms=20"
                          f"&cancel={mode}")
        proc = cli("load", url, *LLM, "--concurrency", "4", "--requests", "8",
                   "--cancel-rate", "1", "--cancel-after", "0.2", "--watch-json", watch,
                   "--grace", "0.5", timeout=60)
        outcome[mode] = report(proc.stdout)
    ignored = outcome["ignore"]
    assert ignored["load"]["llm"]["cancel"]["cancelled"] == 8
    assert ignored["load"]["llm"]["failed"] == 0 and ignored["load"]["llm"]["succeeded"] == 0
    [f] = ignored["findings"]
    assert f["code"] == "llm-load-cancel-ignored" and "8 completion(s)" in f["detail"]
    assert codes(outcome["stop"]) == set()


def test_a_probe_reports_the_first_answer_token_after_reasoning(own_lab) -> None:
    url = own_lab.url(f"{QUEUE_PATH}?limit=4&{QUICK}&reasoning=5")
    proc = cli("probe", url, "-X", "POST", "-d", BODY, "--json", "-", "--duration", "10")
    m = report(proc.stdout)["profile"]["metrics"]
    assert m["reasoning_deltas"] == 5 and m["ttft_ms"] is not None
    assert m["first_answer_ms"] >= m["ttft_ms"] + 5 * 10 * 0.9


@pytest.mark.parametrize(("args", "message"), [
    (("http://example.com/v1/chat/completions", "--profile", "llm"),
     "it is not this machine; add --i-know-what-i-am-doing"),
    (("http://127.0.0.1:9/v1", "--profile", "llm", "--rate", "2", "--sweep", "1,2"),
     "--sweep runs concurrency levels"),
    (("http://127.0.0.1:9/v1", "--profile", "llm", "--sweep", "4,2"), "levels must grow"),
    (("http://127.0.0.1:9/v1", "--profile", "llm", "--slo", "ttft=soon"), "--slo"),
    (("http://127.0.0.1:9/v1", "--rate", "2"), "--rate is for completions under load"),
    (("http://127.0.0.1:9/v1", "--profile", "llm", "--workers", "2"), "--workers is for streams"),
    (("ws://127.0.0.1:9/v1", "--profile", "llm"), "not WebSocket"),
    (("http://127.0.0.1:9/v1", "--profile", "llm", "--cancel-rate", "2"),
     "--cancel-rate must be between 0 and 1"),
])
def test_bad_llm_load_options_are_one_line_and_exit_2(args: tuple[str, ...],
                                                      message: str) -> None:
    proc = cli("load", *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_an_unreachable_llm_target_is_exit_3() -> None:
    proc = cli("load", "http://127.0.0.1:9/v1", "--profile", "llm", "--json", "-",
               "--timeout", "2")
    assert proc.returncode == 3
    assert codes(report(proc.stdout)) == {"target-unreachable"}


def test_ctrl_c_ends_the_run_with_a_partial_report_and_exit_130(own_lab) -> None:
    import time
    import urllib.request

    from tests.support import start_cli, stop_with_ctrl_c

    def gauges() -> dict:  # the route's gauges, over all runs of the module
        with urllib.request.urlopen(own_lab.url("/llm/queue/state"), timeout=5) as resp:
            return json.load(resp)

    def served() -> int:  # answers the route completed so far
        return gauges()["served"]

    # Earlier tests' answers may still be generating (a stalled one, or one that ignores the
    # cancel, outlives its client by seconds): only answers to this run may count below.
    deadline = time.monotonic() + 30
    while (g := gauges())["running"] + g["waiting"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert g["running"] + g["waiting"] == 0, g
    before = served()
    url = own_lab.url(f"{QUEUE_PATH}?limit=4&{QUICK}&k=ctrl-c")
    proc = start_cli("load", url, *LLM, "--sweep", "1,2", "--requests", "100000",
                     "--duration", "60")
    try:
        deadline = time.monotonic() + 30
        while served() < before + 3 and time.monotonic() < deadline:  # a few answers: mid-run
            time.sleep(0.05)
        assert served() >= before + 3
    finally:
        stop_with_ctrl_c(proc)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    r = report(out)
    assert r["interrupted"] is True
    assert r["checks_incomplete"] == ["llm-load-cancel-ignored", "llm-load-queueing",
                                      "llm-load-saturated"]
    llm = r["load"]["llm"]
    assert [row["concurrency"] for row in llm["levels"]] == [1]  # the second never started
    assert llm["succeeded"] >= 3 and llm["failed"] == 0  # the one cut by Ctrl-C is neither


@pytest.mark.parametrize(("path", "ok", "failures"), [
    ("/llm/anthropic/healthy/v1/messages", 4, {}),
    ("/llm/responses/healthy/v1/responses", 4, {}),
    ("/llm/anthropic/error/v1/messages", 0, {"error-in-stream": 4}),
    ("/llm/responses/sequence-gap/v1/responses", 4, {}),  # out of order, but complete
])
def test_every_dialect_the_profile_reads_loads_alike(own_lab, path: str, ok: int,
                                                     failures: dict) -> None:
    body = json.dumps({"model": "x", "stream": True, "max_tokens": 50, "input": "hi",
                       "messages": [{"role": "user", "content": "hi"}]})
    proc = cli("load", own_lab.url(path), "--profile", "llm", "-X", "POST", "-d", body,
               "--concurrency", "2", "--requests", "4", "--json", "-")
    llm = report(proc.stdout)["load"]["llm"]
    assert (llm["succeeded"], llm["failures"]) == (ok, failures)
    if ok:
        assert llm["levels"][0]["output_tokens"]["total"] == 4 * 13  # the usage: 13 each
