"""A suite holds a proxy check now that the proxy is a plan: `sse-doctor run` starts the real
proxy (real mitmdump) in front of the lab for the check's duration, a real client (httpx)
goes through it during the window, and the check is judged by what the client did."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import psutil
import pytest

from sse_doctor.proxy import mitm_env
from tests.support import free_port, wait_listening

TOKEN = "tok-3c4d5e6f7a8b"


def test_a_suite_runs_a_proxy_check_for_its_duration_beside_a_probe(lab, tmp_path) -> None:  # noqa: ANN001
    if mitm_env.find_mitmdump() is None:  # setting it up here would take longer than a test may
        pytest.skip("no mitmdump: run `python -m sse_doctor.proxy.mitm_env` once")
    port = free_port()
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[[check]]
name = "clients through the proxy"
command = "proxy"
listen = "127.0.0.1:{port}"
upstream = "{lab.base_url}"
client_key = "header:X-Tab"
duration = 6

[[check]]
name = "healthy stream"
url = "{lab.url('/sse/healthy')}"
duration = 2
""")
    run = subprocess.Popen([sys.executable, "-m", "sse_doctor", "run", str(suite), "--json", "-"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, run, "the suite's proxy", wait_s=60)
        mitmdump = [c for c in psutil.Process(run.pid).children(recursive=True)
                    if "mitmdump" in " ".join(c.cmdline())]
        assert mitmdump
        # One tab with two streams to one URL open at once, inside the check's window.
        headers = {"Accept": "text/event-stream", "X-Tab": "tab-1",
                   "Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(timeout=10) as c, \
                c.stream("GET", f"http://127.0.0.1:{port}/sse/steady", headers=headers) as a, \
                c.stream("GET", f"http://127.0.0.1:{port}/sse/steady", headers=headers) as b:
            assert a.status_code == b.status_code == 200
            next(a.iter_bytes())
            next(b.iter_bytes())
        out, err = run.communicate(timeout=120)  # the window ends it: nothing presses Ctrl-C
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
    assert run.returncode == 1, err  # concurrent-streams is an error: the check fails
    doc = json.loads(out)
    entries = {s["name"]: s for s in doc["scenarios"]}
    proxied = entries["clients through the proxy"]
    assert proxied["command"] == "proxy" and not proxied["passed"]
    assert [f["code"] for f in proxied["findings"]] == ["concurrent-streams"]
    assert "X-Tab=tab-1" in proxied["findings"][0]["detail"]
    assert proxied["har"]["request_count"] == 2 and proxied["har"]["pages"] == 1
    assert entries["healthy stream"]["passed"]
    assert doc["suite"]["failed"] == 1 and not doc["suite"]["interrupted"]
    assert TOKEN not in out and TOKEN not in err and "Traceback" not in err
    _, alive = psutil.wait_procs(mitmdump, timeout=20)
    assert alive == []  # the proxy's mitmdump ended with its check
