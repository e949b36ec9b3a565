"""Ports and listening servers on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, what: str, wait_s: float = 20) -> None:
    """Until a server process we started accepts connections on 127.0.0.1:port (it offers
    nothing to subscribe to); fails the test when it exits or the deadline passes."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"{what} did not start")
            time.sleep(0.1)
