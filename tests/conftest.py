from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
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


# Several CLI runs that start their work at one moment, each in a process of its own, without
# paying the interpreter's start-up once per run. One process warms up: it imports the CLI and
# runs commands against port 1 of this machine (refused at once), so Typer builds its parameter
# types and everything a request imports (httpcore, anyio, h2, websockets) is loaded, with the
# garbage collector set as `python -m sse_doctor` sets it. Then it reads the runs from stdin and
# forks one child per run (it has no threads then: a fork is safe); each child points its stdout
# and stderr at files of its own and runs the real command line, `main(argv)`, exactly as the
# warmed process would. The warm process reports each child's exit code on stdout as it ends.
_WARM_THEN_FORK = """
import contextlib, gc, io, json, os, sys, threading, traceback
from sse_doctor.__main__ import GC_THRESHOLD
gc.set_threshold(max(GC_THRESHOLD, gc.get_threshold()[0]), *gc.get_threshold()[1:])
from sse_doctor.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for warm in (["probe", "http://127.0.0.1:1/", "--timeout", "1", "--json", "-"],
                 ["probe", "ws://127.0.0.1:1/", "--timeout", "1", "--json", "-"],
                 ["disconnect", "http://127.0.0.1:1/", "--timeout", "1", "--json", "-"]):
        main(warm)
gc.freeze()
assert threading.active_count() == 1, threading.enumerate()
runs = json.loads(sys.stdin.readline())
sys.stdout.flush()
sys.stderr.flush()
children = {}
for index, (argv, out_path, err_path) in enumerate(runs):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                    (1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                    (2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
                opened = os.open(path, flags, 0o600)
                os.dup2(opened, fd)
                os.close(opened)
            sys.argv = ["sse-doctor", *argv]
            try:
                code = main(argv)
            except SystemExit as exc:  # as the interpreter ends on SystemExit
                code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
                if not isinstance(exc.code, (int, type(None))):
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    children[pid] = index
while children:
    pid, status = os.wait()
    print(json.dumps([children.pop(pid), os.waitstatus_to_exitcode(status)]), flush=True)
"""


class ForkedRun:
    """One run of `start_cli_together`: `communicate(timeout)` and `returncode`, as a Popen
    offers them. Its output goes to files (no pipe can fill up while nobody reads it)."""

    def __init__(self, group: _ForkedGroup, index: int, out_path: str, err_path: str) -> None:
        self._group, self._index = group, index
        self._paths = (out_path, err_path)
        self._out: tuple[str, str] | None = None
        self.returncode: int | None = None

    def communicate(self, timeout: float) -> tuple[str, str]:
        if self._out is None:
            self.returncode = self._group.exit_code(self._index, timeout)
            out, err = (pathlib.Path(p).read_text(errors="replace") for p in self._paths)
            for path in self._paths:
                os.unlink(path)
            self._out = out, err
        return self._out


class _ForkedGroup:
    """The warm process and the exit codes it reports, read by a thread as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._codes: dict[int, int] = {}
        self._changed = threading.Condition()
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            index, code = json.loads(line)
            with self._changed:
                self._codes[index] = code
                self._changed.notify_all()
        self.proc.wait()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def exit_code(self, index: int, timeout: float) -> int:
        with self._changed:
            if not self._changed.wait_for(lambda: index in self._codes or self._ended, timeout):
                raise subprocess.TimeoutExpired(f"run {index}", timeout)
        assert index in self._codes, (
            f"the warm process ended without run {index}: "
            f"{self.proc.stderr.read() if self.proc.stderr else ''}")
        return self._codes[index]


def start_cli_together(runs: dict[str, tuple[str, ...]]) -> dict[str, ForkedRun]:
    """Start several CLI runs so that their work begins at one moment, after start-up
    (imports, Typer's parameter types: most of a short run's CPU) is done.

    Started plainly, twenty processes importing at once kept both cores busy for seconds
    while the first ones were already measuring: the lab's answers came late enough for a
    healthy stream to read as delayed-headers. One warm process forks them all instead
    (_WARM_THEN_FORK), so the start-up is paid once, before any run begins, and never lands
    inside a run's window, nor inside another test's beside it."""
    folder = tempfile.mkdtemp(prefix="sse-doctor-runs-")
    names = list(runs)
    paths = [(os.path.join(folder, f"{i}.out"), os.path.join(folder, f"{i}.err"))
             for i in range(len(names))]
    proc = subprocess.Popen([sys.executable, "-c", _WARM_THEN_FORK], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps([[list(runs[n]), *p] for n, p in zip(names, paths)]) + "\n")
    proc.stdin.close()
    proc.stdin = None  # so nothing flushes the closed pipe later
    group = _ForkedGroup(proc)
    return {name: ForkedRun(group, i, *paths[i]) for i, name in enumerate(names)}


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
