"""`sse-doctor har FILE`: the real command line on the HAR fixtures (tests/unit/test_har.py has
the pure checks)."""

from __future__ import annotations

import json
import pathlib

from junitparser import JUnitXml

from tests.support import cli
from tests.support.make_har_fixtures import TOKEN, entry
from tests.support.make_har_fixtures import har as make_har

FIXTURES_DIR = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "har"


# --- the command line ------------------------------------------------------------------------
def test_har_command_reports_every_url_and_exits_by_severity(tmp_path):
    proc = cli("har", str(FIXTURES_DIR / "leaky-tab.har"), "--json", "-")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["command"] == "har" and report["verdict"] == "error"
    (s,) = report["scenarios"]
    assert s["name"] == "/api/notifications/stream"
    assert sorted(f["code"] for f in s["findings"]) == ["concurrent-streams", "request-storm"]
    assert s["har"]["request_count"] == 150 and s["har"]["max_open_at_once"] == 150
    assert len(s["har"]["requests"]) == 150 and s["har"]["requests"][0] == {
        "t_ms": 0.0, "end_ms": None, "page": "page_1", "status": 200}
    proc = cli("har", str(FIXTURES_DIR / "no-backoff.har"))
    assert proc.returncode == 0  # a warning, below the default --fail-on error
    assert "Reconnects without backoff" in proc.stdout and "Back off" in proc.stdout
    assert cli("har", str(FIXTURES_DIR / "no-backoff.har"), "--fail-on", "warning",
               "-q").returncode == 1


def test_har_secrets_never_reach_any_output(tmp_path):
    junit, html = tmp_path / "j.xml", tmp_path / "r.html"
    proc = cli("har", str(FIXTURES_DIR / "healthy.har"), "-v", "--junit", str(junit),
               "--html", str(html))
    assert proc.returncode == 0, proc.stderr
    as_json = cli("har", str(FIXTURES_DIR / "healthy.har"), "--json", "-").stdout
    for text in (proc.stdout, as_json, junit.read_text(), html.read_text()):
        assert TOKEN not in text and "sig" not in text.split("token=")[-1][:20]
    assert "[REDACTED]" in as_json
    page = html.read_text()
    assert "<h3>Capture</h3>" in page and "max open at once" in page
    assert "<h3>Connection</h3>" not in page
    suites = JUnitXml.fromfile(str(junit))
    assert sum(s.tests for s in suites) == 3  # one testcase per client check


def test_har_bad_input_is_one_line_and_exit_2(tmp_path):
    for args in (["har", str(tmp_path / "missing.har")], ["har"],
                 ["har", str(FIXTURES_DIR / "healthy.har"), "--json", "/nonexistent/x.json"]):
        proc = cli(*args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.har"
    bad.write_text("{")
    proc = cli("har", str(bad))
    assert proc.returncode == 2 and "not a HAR file" in proc.stderr


def test_a_stream_url_whose_host_does_not_parse_is_still_reported(tmp_path):
    path = tmp_path / "odd.har"
    path.write_text(json.dumps(make_har([entry("http://[::1/s?key=k-123456", 0, 100)])))
    proc = cli("har", str(path), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (s,) = json.loads(proc.stdout)["scenarios"]
    assert "k-123456" not in proc.stdout and s["har"]["request_count"] == 1


def test_a_capture_without_streams_says_so_and_is_healthy(tmp_path):
    path = tmp_path / "none.har"
    path.write_text(json.dumps(make_har([entry("https://x.test/", 0, 5, kind="document",
                                               mime="text/html")])))
    proc = cli("har", str(path))
    assert proc.returncode == 0
    assert "no SSE or WebSocket requests among its 1 entries" in proc.stderr
    report = json.loads(cli("har", str(path), "--json", "-").stdout)
    assert report["scenarios"] == [] and report["verdict"] == "healthy"
