"""The experiment commands end to end: the real CLI against the lab's general routes, bad
input, deadlines and Ctrl-C. (The lab's experiment scenarios are covered in
test_experiments_lab.py.)"""

from __future__ import annotations

import json
import subprocess

import pytest

from sse_doctor.lab import LabServer
from tests.support import cli, interrupt_once_streaming, start_cli, start_cli_together


def _json(proc) -> dict:
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def runs(lab, own_lab) -> dict:
    """The module's experiment runs, started together (the module takes the longest run, not
    the sum). Each has its own connections; the port watch counts every socket on its lab's
    port, so its run has the module's own lab to itself."""
    healthy = lab.url("/sse/healthy")
    return start_cli_together({
        # Each dropped stream stays open for 8 events (about 2 s): the port watch lists
        # sockets every 0.2 s in a thread, and a busy machine delayed those listings past
        # streams that lived only the default 2 events (0.5 s), so no reading saw them open.
        "watch": ("disconnect", own_lab.url("/sse/healthy"), "--repeat", "2",
                  "--after-events", "8", "--grace", "2", "--watch-port", _port(own_lab),
                  "--json", "-"),
        "fin": ("disconnect", healthy, "--mode", "fin", "--after", "0.6", "--json", "-"),
        "silent": ("disconnect", lab.url("/sse/silent"), "--duration", "1", "--grace", "0.5",
                   "--json", "-"),
        "refused": ("disconnect", lab.url("/sse/http-error"), "--json", "-"),
        "duplicates": ("duplicates", healthy, "--connections", "3", "--policy", "single",
                       "--duration", "1", "--grace", "0", "--json", "-"),
        "storm": ("storm", healthy, "--cycles", "20", "--concurrency", "5", "--grace", "1",
                  "--json", "-"),
        "resume": ("resume", healthy, "--json", "-"),
        "resume-no-ids": ("resume", lab.url("/sse/no-ids"), "--json", "-"),
        "checkup": ("checkup", healthy, "--duration", "2", "--grace", "1", "--cycles", "6",
                    "--json", "-"),
        "checkup-nothing": ("checkup", lab.url("/sse/wrong-content-type"), "--duration", "1",
                            "--json", "-"),
        "checkup-terminal": ("checkup", healthy, "--duration", "1", "--grace", "0.5",
                             "--cycles", "4"),
    })


def _port(lab: LabServer) -> str:
    return lab.base_url.rsplit(":", 1)[1]


def finished(runs: dict, name: str) -> subprocess.CompletedProcess[str]:
    run = runs[name]
    out, err = run.communicate(timeout=120)
    assert run.returncode is not None
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def _codes(scenario: dict) -> set[str]:
    return {f["code"] for f in scenario["findings"]}


def test_disconnect_on_a_healthy_stream_with_a_port_watch(runs, own_lab):
    port = _port(own_lab)
    p = finished(runs, "watch")
    assert p.returncode == 0, p.stderr
    report = _json(p)
    assert report["command"] == "disconnect" and report["verdict"] == "healthy"
    [s] = report["scenarios"]
    assert s["checks_run"] == ["reconnect-rejected", "cleanup-leak", "close-wait-leak"]
    exp = s["experiment"]
    roles = [c["role"] for c in exp["connections"]]
    assert roles == ["drop #1", "drop #2", "reconnect"]
    assert all(c["aborted"] == "rst" for c in exp["connections"][:2])
    assert exp["connections"][0]["close"]["by"] == "client"
    names = [w["name"] for w in s["watches"]]
    assert names == [f"ESTABLISHED on :{port}", f"CLOSE_WAIT on :{port}"]
    assert all(w["returned"] for w in s["watches"])
    assert any(w["peak"] >= 1 for w in s["watches"] if w["name"].startswith("ESTABLISHED"))


def test_disconnect_fin_mode_and_time_trigger(runs):
    p = finished(runs, "fin")
    assert p.returncode == 0, p.stderr
    [s] = _json(p)["scenarios"]
    first = s["experiment"]["connections"][0]
    assert first["aborted"] == "fin" and first["items"] >= 1


def test_disconnect_on_a_server_that_never_sends_ends_by_its_deadline(runs):
    p = finished(runs, "silent")
    assert p.returncode == 0, p.stderr
    [s] = _json(p)["scenarios"]
    steps = " ".join(step["text"] for step in s["experiment"]["steps"])
    assert "only 0 of 2 arrived in 1 s" in steps


def test_disconnect_on_a_refusing_server_says_why_it_could_not_start(runs):
    p = finished(runs, "refused")
    assert p.returncode == 1
    [s] = _json(p)["scenarios"]
    assert _codes(s) == {"http-error"}


def test_experiment_on_an_unreachable_target_exits_3():
    with LabServer() as dead:
        url = dead.url("/sse/healthy")
    p = cli("storm", url, "--cycles", "3", "--timeout", "2", "-q")
    assert p.returncode == 3, p.stderr


def test_duplicates_single_policy_flags_a_server_that_keeps_them_all(runs):
    p = finished(runs, "duplicates")
    assert p.returncode == 1, p.stderr
    [s] = _json(p)["scenarios"]
    [f] = s["findings"]
    assert f["code"] == "duplicate-streams-allowed" and f["severity"] == "error"
    assert f["evidence"]["kept_open"] == 3 and f["evidence"]["shared_ids"] >= 1


def test_storm_counts_cycles_and_checks_the_server_still_serves(runs):
    p = finished(runs, "storm")
    assert p.returncode == 0, p.stderr
    [s] = _json(p)["scenarios"]
    stats = s["experiment"]["stats"]
    assert stats["cycles"] == 20 and stats["outcomes"] == {"accepted": 20}
    assert s["experiment"]["connections"][-1]["role"] == "after the storm"


def test_storm_refuses_a_flood_of_a_remote_host_without_the_flag():
    p = cli("storm", "https://api.example.com/events", "--concurrency", "2000", "--cycles",
            "5000")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "--i-know-what-i-am-doing" in p.stderr
    assert "Traceback" not in p.stderr


def test_resume_on_a_stream_that_restarts_from_the_first_id(runs):
    p = finished(runs, "resume")
    assert p.returncode == 0, p.stderr
    [s] = _json(p)["scenarios"]
    assert _codes(s) == {"resume-replay"}


def test_resume_without_ids(runs):
    p = finished(runs, "resume-no-ids")
    [s] = _json(p)["scenarios"]
    assert _codes(s) == {"no-event-ids"}


def test_checkup_runs_every_experiment_that_applies(runs):
    p = finished(runs, "checkup")
    assert p.returncode == 0, p.stderr
    report = _json(p)
    names = [s["name"] for s in report["scenarios"]]
    assert names == ["probe", "disconnect", "duplicates", "storm", "resume"]
    assert {f["code"] for f in report["findings"]} == {"duplicate-streams-allowed",
                                                       "resume-replay"}


def test_checkup_stops_after_the_probe_when_nothing_is_served(runs):
    p = finished(runs, "checkup-nothing")
    assert p.returncode == 1
    assert [s["name"] for s in _json(p)["scenarios"]] == ["probe"]


def test_checkup_terminal_report_shows_a_scorecard(runs):
    p = finished(runs, "checkup-terminal")
    assert p.returncode == 0, p.stderr
    head = p.stdout.splitlines()[0]
    assert "checkup" in head and "verdict" in head
    for name in ("probe", "disconnect", "duplicates", "storm", "resume"):
        assert name in p.stdout


def test_bad_experiment_options_get_one_line_and_exit_2(lab):
    url = lab.url("/sse/healthy")
    bad = [
        ("disconnect", url, "--after-events", "2", "--after", "1"),
        ("disconnect", url, "--repeat", "0"),
        ("disconnect", url, "--mode", "kick"),
        ("duplicates", url, "--connections", "1"),
        ("storm", url, "--cycles", "0"),
        ("resume", url.replace("http://", "ws://")),
        ("disconnect", url, "--watch-metric", "no-hash-here"),
        ("disconnect", url, "--watch-port", "70000"),
    ]
    for args in bad:
        p = cli(*args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert p.stderr.startswith("sse-doctor: error:"), (args, p.stderr)
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, (args, p.stderr)


def test_watches_that_cannot_be_read_stop_before_anything_runs(lab):
    url = lab.url("/sse/healthy")
    with LabServer() as dead:
        dead_port = dead.base_url.rsplit(":", 1)[1]
    for args in (("--watch-json", lab.url("/no-such-endpoint") + "#a.b"),
                 ("--watch-metric", f"http://127.0.0.1:{dead_port}/metrics#x"),
                 ("--watch-port", dead_port)):
        p = cli("disconnect", url, *args)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, (args, p.stderr)


def test_ctrl_c_closes_every_connection_and_prints_a_partial_report():
    with LabServer() as server:
        proc = start_cli("disconnect", server.url("/sse/healthy"), "--after", "30",
                         "--json", "-")
        out, err = interrupt_once_streaming(proc, server)
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        report = json.loads(out)
        [s] = report["scenarios"]
        assert s["experiment"]["interrupted"] is True
