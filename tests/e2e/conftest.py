"""Fixtures of the end-to-end tests: the lab of misbehaving servers on 127.0.0.1."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from sse_doctor.lab import LabServer


@pytest.fixture(scope="session", autouse=True)
def _children_get_ctrl_c() -> None:
    """A test run started in the background of a non-interactive shell (`bench/contention.sh
    &`, `nohup`, some CI runners) inherits SIGINT ignored, and every process it starts would
    too: the command lines the tests Ctrl-C on purpose would never see it (POSIX keeps an
    ignored signal ignored across exec). The tests' own children must get Ctrl-C as a
    terminal delivers it, so this process takes Python's usual handler, which its children
    start without."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def lab() -> Iterator[LabServer]:
    server = LabServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own_lab() -> Iterator[LabServer]:
    """A lab of the module's own, for counts a shared lab would mix up: the load-limit route
    counts its open streams per app, and the session's lab may still hold another test's."""
    server = LabServer().start()
    try:
        yield server
    finally:
        server.stop()
