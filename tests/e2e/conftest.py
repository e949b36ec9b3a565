"""Fixtures of the end-to-end tests: the lab of misbehaving servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sse_doctor.lab import LabServer


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
