"""A headless Locust master with worker processes on 127.0.0.1, for the tests of
sse_doctor.locust: every process is ours, started with a deadline and stopped by its handle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import free_port


def run_master_with_workers(locustfile: str, tmp_path: Path, master_args: list[str],
                            workers: int = 2) -> tuple[subprocess.CompletedProcess[str],
                                                       list[str]]:
    """The master's finished process and each worker's stderr."""
    path = tmp_path / "locustfile.py"
    path.write_text(locustfile)
    port = free_port()
    base = [sys.executable, "-m", "locust", "-f", str(path)]
    procs = [subprocess.Popen([*base, "--worker", "--master-port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path) for _ in range(workers)]
    try:
        master = subprocess.run(
            [*base, "--headless", "--master", "--master-bind-port", str(port),
             "--expect-workers", str(workers), *master_args],
            capture_output=True, text=True, timeout=90, cwd=tmp_path)
        errs = [p.communicate(timeout=30)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()  # our own child, by its handle
                p.wait(10)
    return master, errs
