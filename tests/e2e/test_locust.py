"""sse_doctor.locust for real: a headless Locust master with two workers on 127.0.0.1 holds
streams on the lab's load-limit route; the master writes the same report as `sse-doctor
load`, with the workers' counts merged and the route's fleet finding."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.support.locust_runs import run_master_with_workers

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


def test_a_master_with_two_workers_aggregates_one_load_report(own_lab, tmp_path) -> None:
    out, xml = tmp_path / "load.json", tmp_path / "load.xml"
    master, errs = run_master_with_workers(
        LOCUSTFILE, tmp_path, ["-u", "40", "-r", "40", "-t", "4s", "--host", own_lab.base_url,
                               "--sse-doctor-json", str(out), "--sse-doctor-junit", str(xml),
                               "--only-summary"])
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
    assert not [e for e in errs if "Traceback" in e]
