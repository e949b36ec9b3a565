"""Fixtures of the unit tests. Every unit test runs with sockets' connect/bind, new processes
and fork refused (`_no_sockets_or_processes`), so a test that needs them fails here at once
and belongs in tests/e2e."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from sse_doctor import interrupt
from sse_doctor.sse import parser as parser_module


class NotAUnitTest(AssertionError):
    """Raised when a unit test opens a connection, binds a port or starts a process."""


@pytest.fixture(autouse=True)
def _no_sockets_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Event loops still make their socketpair (no connect, no bind): asyncio stays usable.
    def refuse(what: str) -> Any:
        def refused(*_: Any, **__: Any) -> None:
            raise NotAUnitTest(f"a unit test may not {what}: move it to tests/e2e")
        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("connect a socket"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect a socket"))
    monkeypatch.setattr(socket.socket, "bind", refuse("bind a socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("start a process"))
    monkeypatch.setattr(os, "fork", refuse("fork"))


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


@pytest.fixture
def handlers() -> Iterator[None]:
    """For tests that send themselves real signals: interrupt.run leaves 'exit at once'
    handlers behind after a signal; the test's own are put back."""
    saved = {s: signal.getsignal(s) for s in interrupt.SIGNALS}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
