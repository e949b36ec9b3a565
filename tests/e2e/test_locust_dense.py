"""sse_doctor.locust's dense users for real: each Locust user holds many streams with the
`sse-doctor load` engine on an event loop in an OS thread of a gevent-patched Locust process.

- a headless master with two workers (one dense user each) on the lab's load-limit route: the
  master's report has both workers' streams, the route's cap and its fleet finding, and Locust's
  own statistics got every stream from the engine threads;
- Ctrl-C on a single process whose dense user runs the stock asyncio loop: the engine stops,
  its counts are in the report, marked interrupted, and nothing prints a traceback;
- a test stopped in a process that lives on: the engine thread closed every socket it had and
  handed back its counts.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.support.locust_runs import run_master_with_workers

# Not importorskip: importing locust monkey-patches this process with gevent (the lab's
# uvicorn thread would then hang); Locust runs in its own processes below.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                reason="the locust extra is not installed")

PER_USER = 100
CAP = 150

LOCUSTFILE = f'''
from sse_doctor.locust import DenseSseUser


class Capped(DenseSseUser):
    path = "/sse/load-limit?max={CAP}&interval=0.5"
    streams_per_user = {PER_USER}
    ramp = 400
    hold_s = 60
'''


def _to_lab(pid: int, port: int) -> int:
    """Connections of process ``pid`` to the lab."""
    return sum(1 for c in psutil.Process(pid).net_connections("tcp")
               if c.raddr and c.raddr.port == port and c.status == "ESTABLISHED")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()  # our own child, by its handle
            p.wait(10)


def test_two_dense_workers_aggregate_their_streams_into_one_report(own_lab, tmp_path) -> None:
    out = tmp_path / "load.json"
    master, errs = run_master_with_workers(
        LOCUSTFILE, tmp_path, ["-u", "2", "-r", "2", "-t", "3s", "--host", own_lab.base_url,
                               "--sse-doctor-json", str(out), "--json"])
    assert out.exists(), master.stderr[-2000:]
    report = json.loads(out.read_text())
    load = report["load"]
    assert report["command"] == "load" and not report["interrupted"]
    assert load["workers"] == 2
    assert load["loop"] == ("uvloop (locust)" if importlib.util.find_spec("uvloop")
                            else "asyncio (locust)")
    requested = 2 * PER_USER
    assert load["streams"]["requested"] == requested
    # the route's cap, each held to the end of the run; every other stream turned away
    assert load["streams"]["opened"] == CAP
    assert load["streams"]["failed"] == requested - CAP
    assert load["streams"]["dropped"] == 0
    assert load["refusals"] == {"503": requested - CAP}
    assert [f["code"] for f in report["findings"]] == ["load-refused"]
    assert load["histograms"]["lag_ms"]["count"] >= CAP  # every held stream's heartbeats
    assert max(s["open"] for s in load["series"]) == CAP
    # Locust's own statistics, fed from the engine threads through the hub
    stats = {s["name"]: s for s in json.loads(master.stdout)}
    assert stats["connect"]["num_requests"] == requested
    assert stats["connect"]["num_failures"] == requested - CAP
    assert stats["stream"]["num_requests"] == CAP and stats["stream"]["num_failures"] == 0
    assert not [e for e in errs if "Traceback" in e]


def test_ctrl_c_stops_a_dense_user_on_the_stock_loop_and_keeps_its_counts(own_lab,
                                                                         tmp_path) -> None:
    streams = 60
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(f'''
from sse_doctor.locust import DenseSseUser


class Clock(DenseSseUser):
    path = "/sse/clock?interval=0.5"
    streams_per_user = {streams}
    ramp = 400
    hold_s = 60
    loop = "asyncio"
''')
    out = tmp_path / "load.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "1",
         "-r", "1", "-t", "60s", "--host", own_lab.base_url, "--sse-doctor-json", str(out),
         "--only-summary"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while _to_lab(proc.pid, own_lab.port) < streams:  # every stream is connected
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the streams did not open"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        stderr = proc.stderr.read()
    finally:
        _stop([proc])
    assert "Traceback" not in stderr, stderr[-2000:]
    report = json.loads(out.read_text())
    load = report["load"]
    assert report["interrupted"] is True
    assert load["loop"] == "asyncio (locust)"
    assert load["streams"]["requested"] == streams
    assert load["streams"]["opened"] == streams
    assert load["streams"]["failed"] == 0 and load["streams"]["dropped"] == 0
    assert [f["code"] for f in report["findings"]] == ["check-incomplete"]


# Locust as a library, so that the process outlives the test it stops: its own sockets can
# be looked at after the stop.
STOP_SCRIPT = """
import json, sys, time
import gevent, locust, psutil
from locust.env import Environment
from sse_doctor import locust as sd


class Clock(sd.DenseSseUser):
    host = sys.argv[1]
    path = "/sse/clock?interval=0.5"
    streams_per_user = int(sys.argv[3])
    ramp = 500
    hold_s = 60


def to_lab():
    return sum(1 for c in psutil.Process().net_connections("tcp")
               if c.raddr and c.raddr.port == int(sys.argv[2]) and c.status == "ESTABLISHED")


env = Environment(user_classes=[Clock], events=locust.events)
runner = env.create_local_runner()
runner.start(1, spawn_rate=1)
deadline = time.monotonic() + 30
while to_lab() < Clock.streams_per_user and time.monotonic() < deadline:
    gevent.sleep(0.05)
before = to_lab()
runner.stop()
counts = sd._LOCAL.dense["d1"].wire["counts"]
print(json.dumps({"before": before, "after": to_lab(), "opened": counts["opened"],
                  "open": counts["open"], "errors": sd._LOCAL.errors}))
"""


def test_stopping_the_test_closes_every_socket_of_the_engine_thread(own_lab, tmp_path) -> None:
    streams = 50
    done = subprocess.run([sys.executable, "-c", STOP_SCRIPT, own_lab.base_url, str(own_lab.port),
                           str(streams)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"before": streams, "after": 0, "opened": streams, "open": 0,
                      "errors": []}
