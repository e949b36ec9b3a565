from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sse_doctor.lab import LabServer
from sse_doctor.sse import parser as parser_module


@pytest.fixture(scope="session")
def lab() -> Iterator[LabServer]:
    server = LabServer().start()
    try:
        yield server
    finally:
        server.stop()


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "sse_doctor", *args], capture_output=True,
                          text=True, timeout=timeout)


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sse_doctor", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_once_streaming(proc: subprocess.Popen[str], server: LabServer,
                             wait_s: float = 30, sig: int | None = None) -> tuple[str, str]:
    """Ctrl-C (or `sig`) a running command as soon as it has a stream open on the lab
    `server`; its output. Afterwards the lab must see every connection gone (asserted)."""
    import signal
    import time

    deadline = time.monotonic() + wait_s
    while server.active_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the stream to open; nothing to subscribe to
    assert server.active_requests >= 1
    proc.send_signal(signal.SIGINT if sig is None else sig)
    out, err = proc.communicate(timeout=20)
    deadline = time.monotonic() + 10
    while server.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.active_requests == 0
    return out, err


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Both parser paths: the compiled block scanner (when the install built it) and the pure
# Python one, which runs wherever no C compiler was available.
PARSER_PATHS = ["compiled", "pure"] if parser_module.COMPILED else ["pure"]


@pytest.fixture(scope="module", params=PARSER_PATHS)
def parser_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's tests once per parser path (module scope: hypothesis-friendly)."""
    saved = parser_module._compiled
    if request.param == "pure":
        parser_module._compiled = None
    try:
        yield request.param
    finally:
        parser_module._compiled = saved
