"""End to end: a real buffering reverse proxy in front of the lab's steady stream.

nginx compresses text/event-stream with gzip while buffering the upstream response
(fixtures/proxy/nginx-gzip-buffering.conf says why that batches the stream). The real CLI,
probing the lab's /sse/steady through it, must report buffered-delivery; the same stream
through the same gzip with buffering off for it, and straight from the lab, must not.

`python -m tests.e2e.test_buffering_proxy` re-records fixtures/recordings/nginx-gzip-buffered.json
(the chunk timing nginx produced), which tests/unit/test_checks.py replays where nginx is missing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sse_doctor.lab import LabServer
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.sse.observe import window_for
from sse_doctor.sse.replay import record
from tests.support import FIXTURES, ForkedRun, free_port, start_cli_together
from tests.support.nginx import NGINX, SKIP_REASON, accepts, stop

TEMPLATE = FIXTURES / "proxy" / "nginx-gzip-buffering.conf"
RECORDING = FIXTURES / "recordings" / "nginx-gzip-buffered.json"
STEADY = "sse/steady?interval=0.1"
# Through the buffering path the batches come every few seconds (the fixture's sizes); a
# 10 s window holds several, and the first one alone is enough for the check (held back
# after the headers), so a slow machine still has margin.
BUFFERED_WINDOW_S = "10"
# ... but the probe need not wait for the window's end: nginx's batches grow (11, 22 and 48
# events at 2.4, 5.6 and 8.8 s in fixtures/recordings/nginx-gzip-buffered.json), so 20 events
# end it on the second batch, two bursts in hand, about 6 s in.
BUFFERED_EVENTS = "20"
CONTROL_WINDOW_S = "5"
START_DEADLINE_S = 10.0
START_ATTEMPTS = 3  # another process may take the free port before nginx binds it


pytestmark = pytest.mark.skipif(NGINX is None, reason=SKIP_REASON)



@dataclass
class Proxy:
    base_url: str
    proc: subprocess.Popen[bytes]


def _start_nginx(prefix: Path, upstream: str) -> Proxy:
    assert NGINX is not None
    errors = ""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(TEMPLATE.read_text()
                        .replace("@PREFIX@", str(prefix))
                        .replace("@PORT@", str(port))
                        .replace("@UPSTREAM@", upstream))
        error_log, stderr_log = prefix / "error.log", prefix / "stderr.log"
        # -e: the startup error log too, or nginx first opens its root-owned default one.
        with stderr_log.open("wb") as stderr:
            proc = subprocess.Popen(
                [NGINX, "-p", f"{prefix}/", "-e", str(error_log), "-c", str(conf)],
                stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            try:
                proc.wait(timeout=0.05)  # it exits at once on a bad config or a taken port
                break
            except subprocess.TimeoutExpired:
                pass
            if accepts(port):
                return Proxy(f"http://127.0.0.1:{port}", proc)
        stop(proc)
        errors = " ".join(log.read_text(errors="replace").strip()
                          for log in (stderr_log, error_log) if log.exists())
        if "Address already in use" not in errors:
            break
    pytest.fail(f"nginx did not start (deadline {START_DEADLINE_S:g} s): {errors}")


@pytest.fixture(scope="module")
def proxy(lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    started = _start_nginx(tmp_path_factory.mktemp("nginx"), _upstream(lab))
    try:
        yield started
    finally:
        stop(started.proc)


@pytest.fixture(scope="module")
def probes(proxy: Proxy, lab: LabServer) -> dict[str, ForkedRun]:
    """The three probes of the module, started together (the module takes the longest
    window, not the sum): each has its own stream and connection."""
    return start_cli_together({
        "buffering": ("probe", f"{proxy.base_url}/buffering/{STEADY}",
                      "--duration", BUFFERED_WINDOW_S, "--max-events", BUFFERED_EVENTS,
                      "--json", "-"),
        "honoring": ("probe", f"{proxy.base_url}/honoring/{STEADY}",
                     "--duration", CONTROL_WINDOW_S, "--json", "-"),
        "direct": ("probe", lab.url(STEADY), "--duration", CONTROL_WINDOW_S, "--json", "-"),
    })


def _probe(probes: dict[str, ForkedRun], name: str) -> tuple[int, dict[str, Any]]:
    run = probes[name]
    out, err = run.communicate(timeout=60)
    assert out, err
    assert run.returncode is not None
    return run.returncode, json.loads(out)


def _codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def _through_nginx(report: dict[str, Any]) -> None:
    headers = report["connection"]["headers"]
    assert headers.get("server", "").startswith("nginx"), headers
    # Both proxy paths compress: what differs is only whether nginx buffers the response.
    assert headers.get("content-encoding") == "gzip", headers
    assert "compressed-stream" in _codes(report)


def test_buffering_proxy_trips_buffered_delivery(probes: dict[str, ForkedRun]) -> None:
    code, report = _probe(probes, "buffering")
    _through_nginx(report)
    assert "buffered-delivery" in _codes(report), report["findings"]
    assert code == 1  # buffered-delivery is an error
    burst = next(f for f in report["findings"] if f["code"] == "buffered-delivery")
    assert burst["evidence"]["bursts"] >= 1
    # The lab wrote one event per write; nginx delivered several per read.
    assert report["stats"]["chunks"] < report["stats"]["events"]


def test_same_proxy_honouring_x_accel_buffering_is_not_buffered(
        probes: dict[str, ForkedRun]) -> None:
    _, report = _probe(probes, "honoring")
    _through_nginx(report)
    assert report["stats"]["events"] >= 3  # enough for the check to have judged the timing
    assert "buffered-delivery" not in _codes(report), report["findings"]


def test_lab_stream_direct_is_not_buffered(probes: dict[str, ForkedRun]) -> None:
    code, report = _probe(probes, "direct")
    assert report["stats"]["events"] >= 3
    assert "buffered-delivery" not in _codes(report), report["findings"]
    assert code == 0, report["findings"]


def _upstream(lab: LabServer) -> str:
    return lab.base_url.removeprefix("http://")


async def _record(url: str, args: list[str]) -> dict[str, Any]:
    target, opts, _ = plan_probe(probe_values([url, *args]))
    return await record(target, window_for(opts))


def rerecord() -> None:
    """Record the buffering path's stream into RECORDING, as tests/unit/test_checks.py expects."""
    args = ["--duration", BUFFERED_WINDOW_S]
    with LabServer() as lab, tempfile.TemporaryDirectory() as tmp:
        started = _start_nginx(Path(tmp), _upstream(lab))
        try:
            rec = asyncio.run(_record(f"{started.base_url}/buffering/{STEADY}", args))
        finally:
            stop(started.proc)
    rec["url"] = f"http://proxy.invalid/buffering/{STEADY}"
    rec["probe_args"] = args
    rec["expect"] = ["buffered-delivery", "compressed-stream"]
    RECORDING.write_text(json.dumps(rec, indent=1) + "\n")
    print(f"wrote {RECORDING.name} ({len(rec['chunks'])} chunks)")


if __name__ == "__main__":
    rerecord()
