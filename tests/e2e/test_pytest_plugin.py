"""The pytest plugin, run by pytest itself (pytester): its fixtures against the lab and against a
real FastAPI app with sse-starlette served by `sse_doctor_server`, a failing check's output
carrying the doctor's verdict and advice, and --sse-doctor-html writing the failing test's
report. The inner runs load the plugin as any project does: through its pytest11 entry point."""

from __future__ import annotations

import pathlib
import re
import shutil

import pytest

from sse_doctor.codes import get

pytest_plugins = ["pytester"]

WINDOW = "duration=4, idle_limit=2"  # the demo's window: the lab's diagnoses hold in it


def _flat(text: str) -> str:
    """The text on one line, without pytest's "E" margin of an assertion's message."""
    return " ".join(re.sub(r"^E {2,}", "", text, flags=re.M).split())


def test_the_plugin_checks_the_lab_and_a_failure_shows_the_doctors_advice(
        pytester: pytest.Pytester, lab) -> None:
    pytester.makepyfile(test_streams=f"""
        import asyncio

        from sse_doctor.pytest_plugin import assert_finding, assert_healthy

        def test_silent_stream(sse_doctor):
            report = sse_doctor.probe("{lab.url('/sse/no-heartbeat')}", {WINDOW})
            assert_healthy(report)

        def test_the_bad_server_is_diagnosed(sse_doctor):
            report = asyncio.run(sse_doctor.aprobe("{lab.url('/sse/no-heartbeat')}",
                                                   {WINDOW}))
            assert_finding(report, "no-heartbeat")
    """)
    html_dir = pytester.path / "reports"
    result = pytester.runpytest("-p", "no:cacheprovider", "--sse-doctor-html", str(html_dir))
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "sse-doctor: http://127.0.0.1:" in out and \
        "/sse/no-heartbeat is not healthy (error): no-heartbeat" in out
    assert "What to do" in out and "[error] no-heartbeat" in out
    assert _flat(get("no-heartbeat").advice) in _flat(out)
    # only the failing test's report, named after it, and its path in the test's output
    [html] = html_dir.iterdir()
    assert html.name == "test_streams.py_test_silent_stream.html"
    assert "no-heartbeat" in html.read_text()
    assert f"HTML report: {html}" in out


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


def test_the_plugin_serves_a_fastapi_app_and_explains_its_failure(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "test_job_progress_keeps_the_stream_alive" in out
    assert "/jobs/1 is not healthy (error): no-heartbeat" in out
    assert _flat(get("no-heartbeat").advice) in _flat(out)
    assert "HTML report" not in out  # only with --sse-doctor-html


def test_the_plugin_stays_out_of_runs_that_do_not_use_it(pytester: pytest.Pytester) -> None:
    """Loaded in every run once installed: a plain test imports nothing of the doctor."""
    pytester.makepyfile(test_plain="""
        import sys

        def test_nothing_imported():
            loaded = sorted(m for m in sys.modules if m.startswith("sse_doctor"))
            assert loaded == ["sse_doctor", "sse_doctor.pytest_plugin",
                              "sse_doctor.version"], loaded
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("-p", "no:cacheprovider", "--help")
    assert "--sse-doctor-html=DIR" in result.stdout.str()


EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def test_the_documented_examples_run_as_written(pytester: pytest.Pytester) -> None:
    """docs/api.md's two complete examples: a FastAPI app served by sse_doctor_server, and a
    Node server (examples/node-sse/server.js) started as a subprocess."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the Node example needs it; CI machines have 20)")
    for rel in ("node-sse/server.js", "pytest/test_node_sse.py", "pytest/test_fastapi_sse.py"):
        dest = pytester.path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text((EXAMPLES / rel).read_text())
    result = pytester.runpytest("-p", "no:cacheprovider", "pytest")
    result.assert_outcomes(passed=4)
