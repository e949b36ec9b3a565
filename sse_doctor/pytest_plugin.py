"""sse-doctor's pytest plugin (registered through the `pytest11` entry point): stream checks in
the test suites teams already have.

    from sse_doctor.pytest_plugin import assert_healthy

    def test_events_stream_stays_healthy(sse_doctor, sse_doctor_server):
        server = sse_doctor_server(app)              # an ASGI app, served by uvicorn
        report = sse_doctor.probe(server.url("/events"), duration=3, idle_limit=2)
        assert_healthy(report)                       # fails with the doctor's advice

- `sse_doctor_server(app, **uvicorn_options)`: serves an ASGI app (or "module:attr") with
  uvicorn on a free port of 127.0.0.1 for the test; `.url(path)`, `.base_url`; stopped after.
- `sse_doctor`: the API (`probe`, `disconnect`, ..., `load_test` and their `a` forms) whose
  reports this test keeps for `--sse-doctor-html`.
- `assert_healthy(report)`, `assert_finding(report, code)`, `assert_no_finding(report, code)`:
  a failure's message is the doctor's verdict and "what to do".
- `--sse-doctor-html DIR`: the HTML report of every check of a failing test, written to DIR
  (one file per report, named after the test), its path in the test's output.

Loaded in every pytest run once sse-doctor is installed: nothing beyond pytest and the
standard library is imported until a test uses a fixture or a helper.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sse_doctor.api import Report

__all__ = ["assert_healthy", "assert_finding", "assert_no_finding", "Doctor", "Server"]

SERVER_START_S = 15.0  # uvicorn's start-up (the app's lifespan included) on a busy machine
SERVER_STOP_S = 5.0

# The reports of the test that runs now (fixture calls and asserted reports), for the HTML
# written when it fails. pytest runs one test at a time per process.
_reports: list[Report] = []


def _keep(report: Report) -> None:
    if not any(r is report for r in _reports):
        _reports.append(report)


# --- assertion helpers --------------------------------------------------------------------------
def _message(report: Report, head: str) -> str:
    return f"{head}\n\n{report.advice_text()}"


def assert_healthy(report: Report, *, fail_on: str = "warning",
                   allow: tuple[str, ...] | list[str] = ()) -> None:
    """Fail unless no finding reaches `fail_on` ("warning": the verdict is healthy;
    "error": warnings pass), apart from the codes in `allow`. The message is the doctor's
    verdict and what to do about each finding."""
    __tracebackhide__ = True
    _keep(report)
    from sse_doctor.codes import fails  # data: the severity order fail_on is judged by

    bad = sorted({f.code for f in report.findings
                  if f.code not in allow and fails(f.severity, fail_on)})
    if bad:
        raise AssertionError(_message(
            report, f"sse-doctor: {report.url} is not healthy ({report.verdict}): "
                    f"{', '.join(bad)}"))


def assert_finding(report: Report, code: str) -> None:
    """Fail unless the report has a finding `code` (a known-bad server must be diagnosed)."""
    __tracebackhide__ = True
    _keep(report)
    _known(code)
    if code not in report.codes:
        found = ", ".join(sorted(report.codes)) or "nothing"
        raise AssertionError(_message(
            report, f"sse-doctor: expected {code} from {report.url}, found {found}"))


def assert_no_finding(report: Report, code: str) -> None:
    """Fail when the report has a finding `code`; the message says what to do about it."""
    __tracebackhide__ = True
    _keep(report)
    _known(code)
    if code in report.codes:
        raise AssertionError(_message(report, f"sse-doctor: {report.url}: {code}"))


def _known(code: str) -> None:
    from sse_doctor.codes import REGISTRY  # data: the finding codes there are

    if code not in REGISTRY:
        raise ValueError(f"unknown sse-doctor finding code {code!r}")


# --- fixtures -------------------------------------------------------------------------------
class Doctor:
    """The `sse_doctor` fixture: the API's commands; every report is kept for this test's
    HTML report (--sse-doctor-html) should it fail."""

    def __getattr__(self, name: str) -> Any:
        from sse_doctor import api

        command = getattr(api, name, None) if not name.startswith("_") else None
        if command is None or name not in api.__all__ or not callable(command) \
                or isinstance(command, type):
            raise AttributeError(name)
        if name.startswith("a") and name[1:] in api.__all__:
            async def arun(url: str, **options: Any) -> Report:
                report = await command(url, **options)
                _keep(report)
                return report
            return arun

        def run(url: str, **options: Any) -> Report:
            report = command(url, **options)
            _keep(report)
            return report
        return run


@pytest.fixture
def sse_doctor() -> Doctor:
    """The doctor's commands (probe, disconnect, duplicates, storm, resume, checkup,
    load_test, and `a`-prefixed async forms), their reports kept for --sse-doctor-html."""
    return Doctor()


class Server:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread of the test process."""

    def __init__(self, app: Any, **uvicorn_options: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))  # a free port, held from now on: no race for it
        self.port: int = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        options = {"log_level": "warning", "timeout_graceful_shutdown": 1, **uvicorn_options}
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, name=f"sse-doctor-server-{self.port}",
                                       daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self.error = exc

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_S
        # uvicorn has no start-up callback; `started` is its own flag (lifespan done)
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"the app did not start: {self.error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the app did not start within {SERVER_START_S:g} s")
            time.sleep(0.01)
        return self

    def url(self, path: str = "/", scheme: str = "http") -> str:
        """The URL of `path` on this server (scheme "ws" for a WebSocket route)."""
        return f"{scheme}://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_STOP_S)
        if self.thread.is_alive():  # streams that never end: close them now
            self.server.force_exit = True
            self.thread.join(SERVER_STOP_S)
        self.sock.close()


@pytest.fixture
def sse_doctor_server() -> Iterator[Any]:
    """A factory: `sse_doctor_server(app, **uvicorn_options) -> Server`, the app served on a
    free port of 127.0.0.1 until the test ends."""
    servers: list[Server] = []

    def start(app: Any, **uvicorn_options: Any) -> Server:
        server = Server(app, **uvicorn_options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


# --- hooks: the option and the HTML of failing tests ------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sse-doctor")
    group.addoption("--sse-doctor-html", metavar="DIR", default=None,
                    help="write the sse-doctor HTML report of each failing test's checks to "
                         "DIR")


def pytest_runtest_setup(item: pytest.Item) -> None:
    _reports.clear()


@pytest.hookimpl(hookwrapper=True)  # the old-style wrapper: pytest 7 has it too
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.when == "call":
        directory = item.config.getoption("sse_doctor_html", None)
        if report.failed and directory and _reports:
            paths = _write_html(directory, item.nodeid, list(_reports))
            report.sections.append(("sse-doctor", "HTML report: " + ", ".join(paths)))
        _reports.clear()


def _write_html(directory: str, nodeid: str, reports: list[Report]) -> list[str]:
    os.makedirs(directory, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]
    paths = []
    for i, report in enumerate(reports, 1):
        name = f"{stem}.html" if len(reports) == 1 else f"{stem}-{i}.html"
        paths.append(report.write_html(os.path.join(directory, name)))
    return paths
