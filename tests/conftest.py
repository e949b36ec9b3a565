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
