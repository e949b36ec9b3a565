"""`sse-doctor load` end to end: the real CLI (worker processes and all) against the lab on
127.0.0.1, a few hundred streams at most, no timing assertions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from sse_doctor.demo_load import run_load_scenario
from sse_doctor.lab.load_scenarios import LOAD_SCENARIOS, load_argv
from tests.support import cli, free_port, start_cli


@pytest.fixture(scope="module")
def lab(own_lab):  # noqa: ANN001, ANN201
    """The module's own lab: wait_idle counts every request a lab still serves, and the
    session's may still serve another module's streams (a suite's stalled routes)."""
    return own_lab


def wait_idle(lab, wait_s: float = 15.0) -> int:
    """The lab's open request handlers once every stream of a run has gone (or the deadline)."""
    deadline = time.monotonic() + wait_s
    while lab.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    return lab.active_requests


@pytest.mark.parametrize("row", LOAD_SCENARIOS, ids=lambda r: r.name)
def test_each_lab_load_scenario_gets_exactly_its_fleet_findings(lab, row) -> None:
    outcome = run_load_scenario(row, lab.base_url)
    assert outcome.report is not None, outcome.stderr
    assert outcome.found == row.expect, [f["detail"] for f in outcome.report["findings"]]
    assert "Traceback" not in outcome.stderr
    load = outcome.report["load"]
    streams = load["streams"]
    assert streams["requested"] == int(row.args[row.args.index("--streams") + 1])
    assert streams["opened"] + streams["failed"] == streams["requested"]
    assert load["workers"] == 2 and outcome.report["interrupted"] is False
    result = outcome.result(lab.base_url)  # the row as the demo shows it
    assert result.matches_expected and result.name == row.name
    assert wait_idle(lab) == 0  # every socket closed at the end


def test_the_load_object_has_the_designs_shape(lab) -> None:
    r = cli("load", lab.url("/sse/clock?interval=0.2"), "--streams", "30", "--ramp", "100",
            "--duration", "1", "--workers", "1", "--json", "-")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["command"] == "load" and report["verdict"] == "healthy"
    load = report["load"]
    assert set(load) == {"streams", "workers", "loop", "phases", "series", "histograms",
                         "refusals", "generator"}
    assert set(load["streams"]) == {"requested", "opened", "failed", "dropped", "reconnected",
                                    "peak_open"}
    assert load["streams"]["opened"] == 30 and load["streams"]["peak_open"] == 30
    assert load["loop"] in ("uvloop", "asyncio")
    assert [p["name"] for p in load["phases"]] == ["ramp", "hold"]
    assert load["series"] and set(load["series"][0]) == {
        "t_s", "open", "opening", "failed", "events_per_s", "lag_p99_ms"}
    assert set(load["histograms"]) == {"headers_ms", "first_byte_ms", "first_event_ms",
                                       "gap_ms", "lag_ms"}
    lag = load["histograms"]["lag_ms"]
    assert set(lag) == {"p50", "p95", "p99", "max", "count"} and lag["count"] >= 30
    assert set(load["generator"]) >= {"cpu_percent", "kib_per_stream"}
    assert wait_idle(lab) == 0


def test_the_stock_event_loop_gives_the_same_diagnosis(lab) -> None:
    row = next(r for r in LOAD_SCENARIOS if r.name == "load-limit")
    r = subprocess.run([sys.executable, "-m", "sse_doctor", *load_argv(row, lab.base_url),
                        "--json", "-"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "SSE_DOCTOR_LOAD_LOOP": "asyncio"})
    report = json.loads(r.stdout)
    assert report["load"]["loop"] == "asyncio"
    assert {f["code"] for f in report["findings"]} == row.expect
    assert wait_idle(lab) == 0


def test_a_terminal_gets_the_live_line_while_it_runs(lab) -> None:
    """stderr a terminal (a pseudo-terminal here): the live line shows the open streams."""
    import pty
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sse_doctor", "load", lab.url("/sse/clock?interval=0.5"),
         "--streams", "20", "--ramp", "40", "--duration", "2", "--workers", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"})
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the command closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=30)
    os.close(leader)
    assert proc.returncode == 0
    assert b"open 20/20" in seen, seen[-500:]
    assert b"lag p50/p99" in seen
    assert "Fleet" in out.decode()  # the report itself on stdout, after the live line


def test_terminal_report_and_junit(lab, tmp_path) -> None:
    xml = tmp_path / "load.xml"
    row = next(r for r in LOAD_SCENARIOS if r.name == "load-limit")
    r = cli(*load_argv(row, lab.base_url), "--junit", str(xml))
    assert r.returncode == 1, r.stderr
    assert "load-refused" in r.stdout and "503" in r.stdout and "Fleet" in r.stdout
    assert 'name="load-refused"' in xml.read_text() and "<failure" in xml.read_text()
    assert wait_idle(lab) == 0


def test_the_html_report_charts_the_run_over_time(lab, tmp_path) -> None:
    page = tmp_path / "load.html"
    row = next(r for r in LOAD_SCENARIOS if r.name == "load-limit")
    r = cli(*load_argv(row, lab.base_url), "--html", str(page), "-q")
    assert r.returncode == 1, r.stderr
    text = page.read_text()
    assert "Load over time" in text and "load-refused" in text
    for name in ("streams open", "streams refused so far", "heartbeat lag p99, ms"):
        assert f"<code>{name}</code>" in text
    assert text.count('class="watchchart"') >= 3
    assert "<h3>Connection</h3>" not in text  # a fleet has no single connection to show
    assert wait_idle(lab) == 0


def test_websockets_are_held_the_same_way(lab) -> None:
    r = cli("load", lab.url("/ws/healthy-echo").replace("http", "ws", 1), "--streams", "20",
            "--ramp", "100", "--duration", "1", "--workers", "1", "--send", "hello",
            "--ping-interval", "0.5", "--json", "-")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["target"]["protocol"] == "ws"
    assert report["load"]["streams"]["opened"] == 20
    assert report["load"]["histograms"]["first_event_ms"]["count"] == 20
    assert wait_idle(lab) == 0


def test_reconnect_follows_retry_like_eventsource(lab) -> None:
    # /sse/finite ends after 5 events with retry: 3000; the hold outlasts one retry.
    r = cli("load", lab.url("/sse/finite"), "--streams", "5", "--ramp", "50", "--duration", "4",
            "--workers", "1", "--reconnect", "--json", "-")
    assert r.returncode == 0, r.stderr
    streams = json.loads(r.stdout)["load"]["streams"]
    assert streams["reconnected"] >= 5 and streams["opened"] >= 10
    assert wait_idle(lab) == 0


def test_ctrl_c_writes_the_partial_report_and_exits_130(lab, tmp_path) -> None:
    out = tmp_path / "partial.json"
    proc = start_cli("load", lab.url("/sse/clock"), "--streams", "50", "--ramp", "100",
                     "--duration", "60", "--workers", "2", "--json", str(out))
    deadline = time.monotonic() + 30
    while lab.active_requests < 50 and time.monotonic() < deadline:
        time.sleep(0.05)  # until every stream is open: nothing to subscribe to
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    report = json.loads(out.read_text())
    assert report["interrupted"] is True
    assert [f["code"] for f in report["findings"]] == ["check-incomplete"]
    assert report["load"]["streams"]["opened"] == 50
    assert wait_idle(lab) == 0


def test_ctrl_c_on_a_terminal_reaches_the_workers_too(lab, tmp_path) -> None:
    """A terminal's Ctrl-C signals the whole process group: the workers must hand back their
    counts, not print tracebacks."""
    out = tmp_path / "partial.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sse_doctor", "load", lab.url("/sse/clock"), "--streams", "40",
         "--ramp", "100", "--duration", "60", "--workers", "2", "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while lab.active_requests < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # the group of the command we started
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and report["load"]["streams"]["opened"] == 40
    assert wait_idle(lab) == 0


def _start_and_wait_open(lab, out, streams: int):
    proc = start_cli("load", lab.url("/sse/clock"), "--streams", str(streams), "--ramp", "100",
                     "--duration", "60", "--workers", "2", "--json", str(out))
    deadline = time.monotonic() + 30
    while lab.active_requests < streams and time.monotonic() < deadline:
        time.sleep(0.05)  # until every stream is open: nothing to subscribe to
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_and_sighup_end_the_run_like_ctrl_c(lab, tmp_path, sig) -> None:
    """A CI job's timeout (SIGTERM) or a closed terminal (SIGHUP) reaches the parent alone:
    it must stop its workers and write the partial report, exit 128 + the signal."""
    out = tmp_path / "partial.json"
    proc = _start_and_wait_open(lab, out, 30)
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and "interrupted" in err
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and report["load"]["streams"]["opened"] == 30
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive
    assert wait_idle(lab) == 0


def test_workers_of_a_killed_parent_close_their_streams_and_exit(lab, tmp_path) -> None:
    """SIGKILL leaves no chance to tell the workers: they notice the parent is gone, close
    every stream and exit, instead of holding the server's connections forever."""
    proc = _start_and_wait_open(lab, tmp_path / "never.json", 30)
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    proc.kill()  # our own child, by its handle
    proc.communicate(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive
    assert wait_idle(lab) == 0


@pytest.mark.parametrize("args, message", [
    (("--ramp", "0"), "--ramp must be greater than 0"),
    (("--http2",), "HTTP/2"),
    (("--lag-from", "header:x"), "--lag-from"),
    (("--streams", "0"), "--streams"),
    (("--profile", "mcp"), "no load form"),
    (("--send", "hi"), "WebSocket"),
])
def test_bad_options_are_one_line_and_exit_2(lab, args, message) -> None:
    r = cli("load", lab.url("/sse/clock"), *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_more_streams_than_the_open_files_limit_allows_is_one_line(lab) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= 1_000_000:
        pytest.skip(f"the open-files hard limit ({hard}) holds the largest --streams")
    r = cli("load", lab.url("/sse/clock"), "--streams", str(hard), "--workers", "1")
    assert r.returncode == 2 and "open files" in r.stderr and "--workers" in r.stderr
    assert r.stderr.count("\n") == 1


def test_many_streams_to_a_remote_host_need_the_flag() -> None:
    r = cli("load", "http://192.0.2.1/sse", "--streams", "5000")
    assert r.returncode == 2 and "--i-know-what-i-am-doing" in r.stderr


def test_an_unreachable_target_is_exit_3() -> None:
    r = cli("load", f"http://127.0.0.1:{free_port()}/sse", "--streams", "10", "--json", "-")
    assert r.returncode == 3, r.stderr
    report = json.loads(r.stdout)
    assert [f["code"] for f in report["findings"]] == ["target-unreachable"]
