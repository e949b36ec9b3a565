"""The pytest plugin, run by pytest itself: its fixtures against the lab and against a real
FastAPI app with sse-starlette served by `sse_doctor_server`, a failing check's output
carrying the doctor's verdict and advice, and --sse-doctor-html writing the failing test's
report. The inner runs load the plugin as any project does: through its pytest11 entry point.

Each inner run is a pytest of its own in a project directory of its own (as
pytester.runpytest_subprocess runs one), and the module starts them all at once: most of
their time is their streams' windows and their start-up, which overlap."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from sse_doctor.codes import get

WINDOW = "duration=4, idle_limit=2"  # the demo's window: the lab's diagnoses hold in it
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _flat(text: str) -> str:
    """The text on one line, without pytest's "E" margin of an assertion's message."""
    return " ".join(re.sub(r"^E {2,}", "", text, flags=re.M).split())


LAB_TESTS = """
    import asyncio

    from sse_doctor.pytest_plugin import assert_finding, assert_healthy

    def test_silent_stream(sse_doctor):
        report = sse_doctor.probe("{url}", {window})
        assert_healthy(report)

    def test_the_bad_server_is_diagnosed(sse_doctor):
        report = asyncio.run(sse_doctor.aprobe("{url}",
                                               {window}))
        assert_finding(report, "no-heartbeat")
"""

APP = """
    import asyncio

    import pytest
    from fastapi import FastAPI
    from sse_starlette.sse import EventSourceResponse

    from sse_doctor.pytest_plugin import assert_healthy, assert_no_finding

    app = FastAPI()

    @app.get("/events")
    async def events():
        async def ticks():
            n = 0
            while True:
                n += 1
                yield {"event": "tick", "id": str(n), "data": f"tick {n}"}
                await asyncio.sleep(0.3)
        return EventSourceResponse(ticks(), ping=1)

    @app.get("/jobs/1")
    async def job():
        # one progress event, then nothing: the generator waits on a job that never reports
        async def progress():
            yield {"event": "progress", "id": "1", "data": "10%"}
            await asyncio.Event().wait()
        return EventSourceResponse(progress(), ping=3600)

    @pytest.fixture
    def server(sse_doctor_server):
        return sse_doctor_server(app)

    def test_events_stay_healthy(server, sse_doctor):
        report = sse_doctor.probe(server.url("/events"), duration=2, idle_limit=1)
        assert_healthy(report, fail_on="error")
        assert_no_finding(report, "no-heartbeat")

    def test_job_progress_keeps_the_stream_alive(server, sse_doctor):
        report = sse_doctor.probe(server.url("/jobs/1"), duration=2, idle_limit=1)
        assert_healthy(report)
"""

PLAIN = """
    import sys

    def test_nothing_imported():
        loaded = sorted(m for m in sys.modules if m.startswith("sse_doctor"))
        assert loaded == ["sse_doctor", "sse_doctor.pytest_plugin",
                          "sse_doctor.version"], loaded
"""


class InnerRun:
    """`python -m pytest` in its own project directory; output to files (no pipe fills up
    while the others run)."""

    def __init__(self, project: pathlib.Path, *args: str) -> None:
        self.project = project
        project.mkdir(parents=True, exist_ok=True)
        self.out, self.err = project / "stdout.txt", project / "stderr.txt"
        # The outer run's own settings stay out, as pytester keeps them out.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PYTEST_")}
        self.started = time.monotonic()
        with self.out.open("w") as out, self.err.open("w") as err:
            # --basetemp of its own: a numbered /tmp/pytest-of-* directory would prune others
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                 f"--basetemp={project / 'basetemp'}", *args],
                cwd=project, stdout=out, stderr=err, env=env)

    def result(self, timeout: float = 120) -> pytest.RunResult:
        try:
            ret = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
            raise
        return pytest.RunResult(ret, self.out.read_text().splitlines(),
                                self.err.read_text().splitlines(),
                                time.monotonic() - self.started)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _project(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def inner(lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, InnerRun]]:  # noqa: ANN001
    """Every inner run of the module, started together."""
    root = tmp_path_factory.mktemp("plugin-runs")
    url = lab.url("/sse/no-heartbeat")
    lab_project = _project(root / "lab", {"test_streams.py": textwrap.dedent(
        LAB_TESTS).replace("{url}", url).replace("{window}", WINDOW)})
    runs = {
        "lab": InnerRun(lab_project, "--sse-doctor-html", str(lab_project / "reports")),
        "app": InnerRun(_project(root / "app", {"test_app.py": textwrap.dedent(APP)})),
        "plain": InnerRun(_project(root / "plain", {"test_plain.py": textwrap.dedent(PLAIN)})),
        "help": InnerRun(root / "help", "--help"),
    }
    if shutil.which("node") is not None:
        rels = ("node-sse/server.js", "pytest/test_node_sse.py", "pytest/test_fastapi_sse.py")
        runs["examples"] = InnerRun(_project(root / "examples", {
            rel: (EXAMPLES / rel).read_text() for rel in rels}), "pytest")
    try:
        yield runs
    finally:
        for run in runs.values():
            run.kill()


def test_the_plugin_checks_the_lab_and_a_failure_shows_the_doctors_advice(inner) -> None:  # noqa: ANN001
    run = inner["lab"]
    result = run.result()
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "sse-doctor: http://127.0.0.1:" in out and \
        "/sse/no-heartbeat is not healthy (error): no-heartbeat" in out
    assert "What to do" in out and "[error] no-heartbeat" in out
    assert _flat(get("no-heartbeat").advice) in _flat(out)
    # only the failing test's report, named after it, and its path in the test's output
    [html] = (run.project / "reports").iterdir()
    assert html.name == "test_streams.py_test_silent_stream.html"
    assert "no-heartbeat" in html.read_text()
    assert f"HTML report: {html}" in out


def test_the_plugin_serves_a_fastapi_app_and_explains_its_failure(inner) -> None:  # noqa: ANN001
    result = inner["app"].result()
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "test_job_progress_keeps_the_stream_alive" in out
    assert "/jobs/1 is not healthy (error): no-heartbeat" in out
    assert _flat(get("no-heartbeat").advice) in _flat(out)
    assert "HTML report" not in out  # only with --sse-doctor-html


def test_the_plugin_stays_out_of_runs_that_do_not_use_it(inner) -> None:  # noqa: ANN001
    """Loaded in every run once installed: a plain test imports nothing of the doctor."""
    inner["plain"].result().assert_outcomes(passed=1)
    assert "--sse-doctor-html=DIR" in inner["help"].result().stdout.str()


def test_the_documented_examples_run_as_written(inner) -> None:  # noqa: ANN001
    """docs/api.md's two complete examples: a FastAPI app served by sse_doctor_server, and a
    Node server (examples/node-sse/server.js) started as a subprocess."""
    if "examples" not in inner:
        pytest.skip("node is not installed (the Node example needs it; CI machines have 20)")
    inner["examples"].result().assert_outcomes(passed=4)
