"""Every lab experiment row through the real CLI: each leaky server gets its diagnosis, with
the watched series as evidence, and each correct one gets none (SSE and WebSocket)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sse_doctor.lab import LabServer
from sse_doctor.lab.experiments import EXPERIMENTS, experiment_argv
from tests.support import start_cli_together


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, dict]]:
    """All rows at once in their own lab (they use separate routes and gauges), except the
    --watch-port row, which counts every socket on the port and runs alone afterwards."""
    with LabServer() as lab:
        def argv(e):  # noqa: ANN001, ANN202
            return (e.command, *experiment_argv(e, lab.base_url, f"test-{e.name}"), "--json",
                    "-")

        def finish(proc) -> dict:  # noqa: ANN001
            out, err = proc.communicate(timeout=120)
            assert out, err
            return {"rc": proc.returncode, "report": json.loads(out), "stderr": err}

        alone = [e for e in EXPERIMENTS if "--watch-port" in e.args]
        # Warm first, then all at once: no process start-up inside another row's grace.
        procs = start_cli_together({e.name: argv(e) for e in EXPERIMENTS if e not in alone})
        results = {name: finish(p) for name, p in procs.items()}
        for e in alone:
            results[e.name] = finish(start_cli_together({e.name: argv(e)})[e.name])
        yield results


@pytest.mark.parametrize("row", EXPERIMENTS, ids=[e.name for e in EXPERIMENTS])
def test_each_row_gets_exactly_its_diagnosis(runs, row):
    run = runs[row.name]
    report = run["report"]
    assert report["command"] == row.command
    [scenario] = report["scenarios"]
    found = {f["code"] for f in scenario["findings"]}
    assert found == set(row.expect), (row.name, scenario["experiment"]["steps"])
    worst = report["verdict"]
    assert run["rc"] == (1 if worst == "error" else 0), run["stderr"]


def _scenario(runs, name: str) -> dict:
    return runs[name]["report"]["scenarios"][0]


def test_the_leaky_session_is_refused_with_the_servers_own_words(runs):
    s = _scenario(runs, "disconnect-leaky")
    [f] = [f for f in s["findings"] if f["code"] == "reconnect-rejected"]
    assert f["evidence"]["status"] == 409
    assert "FILE_PROCESSING" in f["detail"]


def test_cleanup_leak_carries_the_watched_series(runs):
    s = _scenario(runs, "disconnect-leaky")
    leaks = [f for f in s["findings"] if f["code"] == "cleanup-leak"]
    assert len(leaks) == 2  # the Prometheus gauge and the JSON state, both stuck
    for f in leaks:
        series = f["evidence"]["series"]
        assert series["baseline"] == 0 and series["final"] >= 1 and not series["returned"]
        assert series["samples"]
    assert {w["name"] for w in s["watches"]} == {
        'lab_pending_sessions{route="leaky-session"}', "leaky-session.temp_files"}


def test_the_clean_session_returns_to_baseline(runs):
    s = _scenario(runs, "disconnect-clean")
    assert s["watches"] and all(w["returned"] for w in s["watches"])
    roles = [c["role"] for c in s["experiment"]["connections"]]
    assert roles == ["drop #1", "reconnect"]


def test_websocket_drop_without_a_close_frame(runs):
    leaky = _scenario(runs, "ws-disconnect-leaky")
    first = leaky["experiment"]["connections"][0]
    assert first["aborted"] == "rst" and first["close"]["code"] == 1006
    assert not leaky["watches"][0]["returned"]
    assert _scenario(runs, "ws-disconnect-clean")["watches"][0]["returned"]


def test_duplicates_report_what_the_server_kept(runs):
    unlimited = _scenario(runs, "duplicates-unlimited")
    assert unlimited["experiment"]["stats"]["kept_open"] == 3
    newest = _scenario(runs, "duplicates-newest")
    stats = newest["experiment"]["stats"]
    assert stats["kept_open"] == 1 and stats["closed_by_server"] == 2


def test_resume_evidence_names_the_ids(runs):
    [gap] = _scenario(runs, "resume-gap")["findings"]
    assert gap["evidence"]["last_event_id"] == "3" and gap["evidence"]["missing"] == 5
    [replay] = _scenario(runs, "resume-ignored")["findings"]
    assert replay["evidence"]["resumed_ids"][0] == "1"
