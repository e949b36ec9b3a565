"""Running the real command line from tests: `cli` (a finished run), `start_cli` (a new
interpreter, as a Popen), `start_cli_together` (several runs forked at one moment from a warmed
interpreter, tests/support/fork_server.py), and helpers to interrupt runs."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from sse_doctor.lab import LabServer

FORK_SERVER = pathlib.Path(__file__).resolve().parent / "fork_server.py"


def cli_fresh(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a new interpreter, `python -m sse_doctor ...`."""
    return subprocess.run([sys.executable, "-m", "sse_doctor", *args], capture_output=True,
                          text=True, timeout=timeout)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a process of its own, as a user would: forked from a
    warmed interpreter (tests/support/fork_server.py), or a new one when this process's
    environment or working directory has changed since that interpreter started."""
    server = _fork_server()
    if server is None:
        return cli_fresh(*args, timeout=timeout)
    [run] = server.start([args])
    out, err = run.communicate(timeout=timeout)
    assert run.returncode is not None
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def start_cli(*args: str) -> subprocess.Popen[str]:
    """A new interpreter; a fatal signal (SIGABRT from a test giving up on it) prints every
    thread's stack to its stderr."""
    return subprocess.Popen([sys.executable, "-m", "sse_doctor", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})


class ForkedRun:
    """One run forked by the fork server: `communicate(timeout)`, `returncode` and `pid`, as
    a Popen offers them. Its output goes to files (no pipe fills up while nobody reads)."""

    def __init__(self, server: _ForkServer, run_id: int, argv: tuple[str, ...],
                 folder: str) -> None:
        self._server, self._id = server, run_id
        self.args = [sys.executable, "-m", "sse_doctor", *argv]
        self.paths = (os.path.join(folder, f"{run_id}.out"), os.path.join(folder, f"{run_id}.err"))
        self._out: tuple[str, str] | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        return self._server.pid_of(self._id)

    def _read(self) -> tuple[str, str]:
        out, err = (pathlib.Path(p).read_text(errors="replace") for p in self.paths)
        for path in self.paths:
            os.unlink(path)
        return out, err

    def communicate(self, timeout: float) -> tuple[str, str]:
        if self._out is None:
            try:
                self.returncode = self._server.exit_code(self._id, timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.returncode = self._server.exit_code(self._id, 30)
                out, err = self._read()
                raise subprocess.TimeoutExpired(self.args, timeout, out, err) from None
            self._out = self._read()
        return self._out


class _ForkServer:
    """The warmed interpreter and what it answers, read by a thread as it comes."""

    def __init__(self) -> None:
        self.env, self.cwd = _environment(), os.getcwd()
        self.folder = tempfile.mkdtemp(prefix="sse-doctor-runs-")
        self._log = open(os.path.join(self.folder, "server.err"), "w+")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, str(FORK_SERVER)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()  # pytest-timeout bounds the warm-up
        if not ready.strip():
            self._log.seek(0)
            raise RuntimeError(f"the fork server did not start: {self._log.read()}")
        self._lock = threading.Lock()
        self._next = 0
        self._answers: dict[int, dict[str, int]] = {}
        self._changed = threading.Condition()
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def usable(self) -> bool:
        return (self.proc.poll() is None and not self._ended and _environment() == self.env
                and os.getcwd() == self.cwd)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self._changed:
                self._answers.setdefault(answer.pop("id"), {}).update(answer)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _wait(self, run_id: int, key: str, timeout: float) -> int:
        with self._changed:
            if not self._changed.wait_for(
                    lambda: key in self._answers.get(run_id, {}) or self._ended, timeout):
                raise subprocess.TimeoutExpired(f"run {run_id}", timeout)
            if key not in self._answers.get(run_id, {}):
                self._log.seek(0)
                raise RuntimeError(f"the fork server ended: {self._log.read()}")
            return self._answers[run_id][key]

    def pid_of(self, run_id: int) -> int:
        return self._wait(run_id, "pid", 30)

    def exit_code(self, run_id: int, timeout: float) -> int:
        return self._wait(run_id, "code", timeout)

    def start(self, runs: list[tuple[str, ...]]) -> list[ForkedRun]:
        """Fork one child per argv, all in one go."""
        with self._lock:
            started = [ForkedRun(self, self._next + i, argv, self.folder)
                       for i, argv in enumerate(runs)]
            self._next += len(runs)
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps([[r._id, list(argv), *r.paths]
                                              for r, argv in zip(started, runs)]) + "\n")
            self.proc.stdin.flush()
        return started

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _environment() -> dict[str, str]:
    """os.environ, less the variable pytest changes for every test."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


_server: _ForkServer | None = None
_server_lock = threading.Lock()


def _fork_server() -> _ForkServer | None:
    """This test process's fork server, started on first use; None when it cannot serve a run
    as a new interpreter would (the environment or working directory changed)."""
    global _server
    with _server_lock:
        if _server is None:
            _server = _ForkServer()
            atexit.register(_server.close)
        return _server if _server.usable() else None


def start_cli_together(runs: dict[str, tuple[str, ...]]) -> dict[str, ForkedRun]:
    """Start several CLI runs so that their work begins at one moment, with no start-up
    (imports, Typer's parameter types: most of a short run's CPU) inside any of them.

    Started as new interpreters, twenty processes importing at once kept both cores busy for
    seconds while the first ones were already measuring: the lab's answers came late enough
    for a healthy stream to read as delayed-headers. The fork server forks them all in one go
    from its warmed interpreter instead."""
    server = _fork_server()
    assert server is not None, "start_cli_together needs the environment the session began with"
    names = list(runs)
    return dict(zip(names, server.start([runs[n] for n in names])))


def finished_json(runs: dict[str, ForkedRun], name: str, timeout: float = 60) \
        -> tuple[int, dict[str, Any], str]:
    """One of start_cli_together's runs (a `--json -` one), once it ended: (exit code, its JSON
    report, or {} when it printed none, stderr)."""
    run = runs[name]
    out, err = run.communicate(timeout=timeout)
    assert run.returncode is not None
    return run.returncode, json.loads(out) if out.strip() else {}, err


def interrupt_once_streaming(proc: subprocess.Popen[str], server: LabServer,
                             wait_s: float = 30, sig: int | None = None) -> tuple[str, str]:
    """Ctrl-C (or `sig`) a running command as soon as it has a stream open on the lab
    `server`; its output. Afterwards the lab must see every connection gone (asserted)."""
    deadline = time.monotonic() + wait_s
    while server.active_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the stream to open; nothing to subscribe to
    assert server.active_requests >= 1
    proc.send_signal(signal.SIGINT if sig is None else sig)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired as exc:
        # Our own child, by its handle: a failing test leaves no run behind. SIGABRT first:
        # a new interpreter started with PYTHONFAULTHANDLER (start_cli) prints every thread's
        # stack on it, which says where the run was stuck.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGABRT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise AssertionError(f"the run did not end within 20 s of the signal; stderr:\n"
                             f"{err}") from exc
    deadline = time.monotonic() + 10
    while server.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.active_requests == 0
    return out, err


def stop_with_ctrl_c(proc: subprocess.Popen[str], wait_s: float = 20) -> None:
    """Ctrl-C our own child and wait for it; killed (by its handle) when it does not end in
    time, so a failing test never leaves a server running."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


