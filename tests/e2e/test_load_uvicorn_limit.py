"""`sse-doctor load` against uvicorn out of file descriptors: the lab app in a uvicorn process
whose open-files limit is 60. Past that uvicorn cannot accept what the kernel queued for it;
the streams it never serves must come out as load-refused (reset, closed or timeout, never a
status), the ones it took held, and our report must not blame the generator."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from tests.support import cli, free_port, wait_listening


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (60, 60))


def test_uvicorn_out_of_file_descriptors_is_load_refused() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sse_doctor.lab.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "critical"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_limit_files)
    try:
        wait_listening(port, proc, "uvicorn")
        r = cli("load", f"http://127.0.0.1:{port}/sse/clock?interval=0.5", "--streams", "100",
                "--ramp", "100", "--duration", "2", "--workers", "2", "--timeout", "2",
                "--json", "-")
    finally:
        proc.terminate()  # our own child, by its handle
        proc.wait(10)
    report = json.loads(r.stdout)
    load = report["load"]
    assert [f["code"] for f in report["findings"]] == ["load-refused"], load["refusals"]
    assert 10 <= load["streams"]["opened"] < 60
    assert load["streams"]["opened"] + load["streams"]["failed"] == 100
    assert load["refusals"] and set(load["refusals"]) <= {"reset", "closed", "timeout"}
