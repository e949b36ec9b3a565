"""sse_doctor.locust for real: a headless Locust master with two workers on 127.0.0.1 holds
streams on the lab's load-limit route; the master writes the same report as `sse-doctor
load`, with the workers' counts merged and the route's fleet finding."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from .conftest import free_port

# Not importorskip: importing locust monkey-patches this process with gevent (the lab's
# uvicorn thread would then hang); Locust runs in its own processes below.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                reason="the locust extra is not installed")

LOCUSTFILE = '''
from sse_doctor.locust import SseUser


class Capped(SseUser):
    path = "/sse/load-limit?max=20&interval=0.5"
    hold_s = 60
'''


def test_a_master_with_two_workers_aggregates_one_load_report(lab, tmp_path) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    out, xml = tmp_path / "load.json", tmp_path / "load.xml"
    port = free_port()
    base = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    workers = [subprocess.Popen([*base, "--worker", "--master-port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path) for _ in range(2)]
    try:
        master = subprocess.run(
            [*base, "--headless", "--master", "--master-bind-port", str(port),
             "--expect-workers", "2", "-u", "40", "-r", "40", "-t", "4s", "--host",
             lab.base_url, "--sse-doctor-json", str(out), "--sse-doctor-junit", str(xml),
             "--only-summary"],
            capture_output=True, text=True, timeout=90, cwd=tmp_path)
        for w in workers:
            w.wait(30)
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()  # our own child, by its handle
                w.wait(10)
    assert out.exists(), master.stderr[-2000:]
    report = json.loads(out.read_text())
    load = report["load"]
    assert report["command"] == "load" and load["workers"] == 2
    assert load["streams"]["requested"] == 40
    assert load["streams"]["opened"] == 20  # the route's cap; each held past the run
    assert load["refusals"].get("503", 0) >= 20
    assert [f["code"] for f in report["findings"]] == ["load-refused"]
    assert load["histograms"]["lag_ms"]["count"] >= 20
    assert 'name="load-refused"' in xml.read_text()
    for w in workers:
        assert "Traceback" not in w.stderr.read()
