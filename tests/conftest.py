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


@pytest.fixture(scope="module")
def own_lab() -> Iterator[LabServer]:
    """A lab of the module's own, for counts a shared lab would mix up: the load-limit route
    counts its open streams per app, and the session's lab may still hold another test's."""
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


# A CLI run that warms up first, says "ready" on stderr, and starts its real command line only
# when a line arrives on stdin. The warm-up runs commands against port 1 of this machine
# (refused at once), so Typer builds its parameter types and everything a request imports
# (httpcore, anyio, h2, websockets) is loaded. Output of the warm-up is thrown away.
_WARM_THEN_WAIT = """
import contextlib, io, sys
from sse_doctor.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for warm in (["probe", "http://127.0.0.1:1/", "--timeout", "1", "--json", "-"],
                 ["probe", "ws://127.0.0.1:1/", "--timeout", "1", "--json", "-"],
                 ["disconnect", "http://127.0.0.1:1/", "--timeout", "1", "--json", "-"]):
        main(warm)
sys.stderr.write("ready\\n")
sys.stderr.flush()
sys.stdin.readline()
raise SystemExit(main(sys.argv[1:]))
"""


def start_cli_together(runs: dict[str, tuple[str, ...]]) -> dict[str, subprocess.Popen[str]]:
    """Start several CLI runs so that their work begins at one moment, after every process
    has done its start-up (imports, Typer's parameter types: most of a short run's CPU).

    Started plainly, twenty processes importing at once kept both cores busy for seconds
    while the first ones were already measuring: the lab's answers came late enough for a
    healthy stream to read as delayed-headers. Each process here says "ready" when warm and
    waits for a line on stdin; all get it once all are ready (pytest-timeout bounds the wait).
    The "ready" line is consumed, so stderr holds only the real run's output."""
    procs = {name: subprocess.Popen([sys.executable, "-c", _WARM_THEN_WAIT, *argv],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, argv in runs.items()}
    for name, proc in procs.items():
        assert proc.stderr is not None and proc.stdin is not None
        line = proc.stderr.readline()  # blocks until this one is warm (or died)
        assert line == "ready\n", (name, line + proc.stderr.read())
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
        proc.stdin = None  # so communicate() does not flush the closed pipe
    return procs


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


def wait_listening(port: int, proc: subprocess.Popen, what: str, wait_s: float = 20) -> None:
    """Until a server process we started accepts connections on 127.0.0.1:port (it offers
    nothing to subscribe to); fails the test when it exits or the deadline passes."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"{what} did not start")
            time.sleep(0.1)
