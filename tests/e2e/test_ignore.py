"""--ignore CODE on every command and `ignore = [...]` in suites (issue 21): an ignored finding
stays in every output, marked, and decides neither the verdict nor the exit code; an unknown
code is a usage error naming the nearest codes."""

from __future__ import annotations

import json
import pathlib
import xml.etree.ElementTree as ET

from sse_doctor.model import Finding, Result, mark_ignored, verdict_of
from tests.support import cli

HAR = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "har" / "leaky-tab.har"


def test_an_ignored_finding_decides_nothing() -> None:
    err = Finding("http-error", "error", "t", "d")
    note = Finding("no-event-ids", "info", "t", "d")
    r = Result(name="probe", protocol="sse", url="http://x/", findings=[err, note],
               checks_run=[])
    mark_ignored([r], {"http-error"})
    assert err.ignored and not note.ignored
    assert r.verdict == "healthy" and not r.fails_at("warning")
    assert err.to_json()["ignored"] is True and "ignored" not in note.to_json()
    assert verdict_of([Finding("x", "warning", "t", "d")]) == "warning"


def test_probe_with_ignore_marks_the_finding_in_every_output(lab, tmp_path) -> None:  # noqa: ANN001
    out = {k: tmp_path / f"r.{k}" for k in ("json", "xml", "html")}
    r = cli("probe", lab.url("/sse/http-error"), "--duration", "2", "--ignore", "http-error",
            "--json", str(out["json"]), "--junit", str(out["xml"]), "--html", str(out["html"]))
    assert r.returncode == 0, r.stderr
    assert "(ignored: http-error)" in r.stdout and "Ignored (--ignore" in r.stdout
    report = json.loads(out["json"].read_text())
    assert report["verdict"] == "healthy"
    (f,) = report["findings"]
    assert f["code"] == "http-error" and f["ignored"] is True
    case = [c for c in ET.parse(out["xml"]).iter("testcase") if c.get("name") == "http-error"]
    skipped = case[0].find("skipped")
    assert skipped is not None and skipped.get("message").startswith("ignored (--ignore)")
    assert "ignored (--ignore): decides nothing" in out["html"].read_text()
    # Without --ignore the same stream fails.
    assert cli("probe", lab.url("/sse/http-error"), "--duration", "2", "-q").returncode == 1


def test_har_with_ignore_and_an_unknown_code() -> None:
    assert cli("har", str(HAR), "-q").returncode == 1
    r = cli("har", str(HAR), "-q", "--ignore", "concurrent-streams", "--ignore",
            "request-storm")
    assert r.returncode == 0 and "(ignored: concurrent-streams, request-storm)" in r.stdout
    bad = cli("har", str(HAR), "--ignore", "concurent-streams")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == (
        "sse-doctor: error: --ignore: unknown finding code 'concurent-streams' (did you mean "
        "'concurrent-streams', 'not-event-stream', 'compressed-stream'?)")


def test_suite_ignore_and_run_ignore(lab, tmp_path) -> None:  # noqa: ANN001
    host = lab.url("/").split("//")[1].rstrip("/")
    suite = tmp_path / "s.toml"
    suite.write_text(f'name = "ignore"\n\n[[check]]\nname = "errors accepted"\n'
                     f'url = "http://{host}/sse/http-error"\nduration = 2\n'
                     f'ignore = ["http-error"]\n')
    r = cli("run", str(suite), "--json", "-")
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"ignored": true' in r.stdout
    suite.write_text(suite.read_text().replace('ignore = ["http-error"]\n', ""))
    assert cli("run", str(suite), "-q").returncode == 1
    assert cli("run", str(suite), "-q", "--ignore", "http-error").returncode == 0
    suite.write_text(suite.read_text() + 'ignore = ["http-eror"]\n')
    bad = cli("run", str(suite))
    assert bad.returncode == 2 and "ignore: unknown finding code 'http-eror'" in bad.stderr
