"""Running the real `sse-doctor exporter` for the tests (on a free port, stopped by its handle)
and reading its Prometheus exposition."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

from prometheus_client.parser import text_string_to_metric_families

from tests.support.net import free_port, wait_listening


def metrics(text: str) -> dict[tuple, float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, *sorted(s.labels.items()))] = s.value
    return out


def start_exporter(config: str, *args: str, env: dict[str, str] | None = None) \
        -> tuple[subprocess.Popen[bytes], str, pathlib.Path]:
    port = free_port()
    log = pathlib.Path(tempfile.mkdtemp(prefix="sse-doctor-exporter-")) / "exporter.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sse_doctor", "exporter", "--config", config,
         "--listen", f"127.0.0.1:{port}", *args],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"), env={**os.environ, **(env or {})})
    wait_listening(port, proc, "the exporter")
    return proc, f"http://127.0.0.1:{port}", log


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
