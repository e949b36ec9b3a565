"""A Node.js SSE server checked from pytest: the server (examples/node-sse/server.js) is started
as a subprocess on a free port, and each test probes one of its streams.

    pip install sse-doctor        # the pytest plugin comes with it
    pytest examples/pytest/test_node_sse.py
"""

from __future__ import annotations

import os
import pathlib
import select
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from sse_doctor.pytest_plugin import assert_finding, assert_healthy

SERVER = pathlib.Path(__file__).resolve().parent.parent / "node-sse" / "server.js"


@pytest.fixture(scope="module")
def node_server() -> Iterator[str]:
    """The server's base URL, read from the line it prints once it listens."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    proc = subprocess.Popen([node, str(SERVER)], env={**os.environ, "PORT": "0"},
                            stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)  # never wait forever
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"the server did not start: {line!r}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_event_stream_is_healthy(node_server, sse_doctor) -> None:
    report = sse_doctor.probe(f"{node_server}/events", duration=3, idle_limit=2)
    assert_healthy(report)
    assert report.stats["events"] >= 5 and report.connection["status"] == 200


def test_a_stalled_job_is_diagnosed(node_server, sse_doctor) -> None:
    report = sse_doctor.probe(f"{node_server}/stalled", duration=3, idle_limit=2)
    assert_finding(report, "no-heartbeat")
