"""The fork server behind tests.support.cli: one warmed interpreter that forks a child per CLI
run asked on stdin.

Most end-to-end tests run a short command line, and a new interpreter spends most of such a
run starting up (imports, Typer's parameter types): ~0.8 s of CPU each, hundreds of times, and
all the more on a busy machine. This program does that once per test session: it imports the
CLI and runs commands against port 1 of this machine (refused at once), so Typer builds its
parameter types and everything a request imports (httpcore, anyio, h2, websockets) is loaded,
with the garbage collector set as `python -m sse_doctor` sets it. Then, for each run asked on
stdin (a JSON list of `[run_id, argv, out_path, err_path]` per line), it forks a child (it has
no threads: a fork is safe) that points stdin at /dev/null and stdout and stderr at the given
files and runs the real command line, `main(argv)`, as `python -m sse_doctor` does. It answers
`{"id": run_id, "pid": pid}` when a child is forked and `{"id": run_id, "code": exit_code}`
when it ends, one JSON object per line on stdout.

Run as a script (`python tests/support/fork_server.py`): it imports nothing from the tests, so
it needs no particular working directory.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import select
import signal
import sys
import threading
import traceback
from typing import Any

if __name__ == "__main__":
    # A script's own folder is sys.path[0]; `python -m sse_doctor` has the working directory
    # there instead, and so must the runs forked from here.
    sys.path[0] = os.getcwd()

from sse_doctor.__main__ import GC_THRESHOLD  # noqa: E402  (after the path is set)
from sse_doctor.cli import main  # noqa: E402

WARM_UP = (["probe", "http://127.0.0.1:1/", "--timeout", "1", "--json", "-"],
           ["probe", "ws://127.0.0.1:1/", "--timeout", "1", "--json", "-"],
           ["disconnect", "http://127.0.0.1:1/", "--timeout", "1", "--json", "-"])


def reply(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def child(argv: list[str], out_path: str, err_path: str, wake: tuple[int, int]) -> None:
    """In the forked child: the real command line with its own stdio; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wake:
            os.close(fd)
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
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
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


def warm_up() -> None:
    gc.set_threshold(max(GC_THRESHOLD, gc.get_threshold()[0]), *gc.get_threshold()[1:])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for argv in WARM_UP:
            main(list(argv))
    gc.freeze()
    assert threading.active_count() == 1, threading.enumerate()


def serve() -> None:
    # SIGCHLD wakes the select below through this pipe, so ended children are answered at once.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}
    pending = b""
    reply(ready=True)
    while True:
        readable = select.select([0, wake_r], [], [])[0]
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
        if 0 in readable:
            data = os.read(0, 65536)
            if not data:  # the test session ended: nothing may outlive it
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                for run_id, argv, out_path, err_path in json.loads(line):
                    pid = os.fork()
                    if pid == 0:
                        child(argv, out_path, err_path, (wake_r, wake_w))
                    children[pid] = run_id
                    reply(id=run_id, pid=pid)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reply(id=children.pop(pid), code=os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    warm_up()
    serve()
