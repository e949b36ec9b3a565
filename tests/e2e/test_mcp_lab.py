"""probe --profile mcp through the real command line against the lab's MCP servers: each
gets exactly its diagnosis; bad input is one line and exit 2; secrets stay out of outputs."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from sse_doctor.lab import SCENARIOS, LabServer
from tests.support import cli, start_cli_together

MCP = [s for s in SCENARIOS if s.protocol == "mcp"]
# The demo's idle limit (a loaded machine may delay a 0.5 s heartbeat past 1 s).
ARGS = ("--duration", "3", "--idle-limit", "2")
NOT_MCP = ["/sse/garbage", "/sse/silent", "/sse/echo", "/sse/huge-line"]
SECRETS = ("--bearer", "sekrit-bearer-token", "-H", "x-api-key: sekrit-api-key")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("mcp-outputs")


@pytest.fixture(scope="module")
def runs(lab: LabServer, outputs: pathlib.Path) -> dict:
    """The module's probes of the lab's MCP servers (and of routes that are not MCP at all),
    started together: each holds its own session and GET stream for the window, so the
    module takes one window, not the sum. (The cancellation runs, which read the servers'
    gauges of running calls, run on their own.)"""
    mcp = ("--profile", "mcp", *ARGS)
    return start_cli_together({
        **{s.name: ("probe", lab.url(s.path), *ARGS, *s.probe_args, "--json", "-")
           for s in MCP},
        "terminal": ("probe", lab.url("/mcp/response-missing"), *mcp),
        "secrets": ("probe", lab.url("/mcp/session-lost"), *mcp, *SECRETS, "--json", "-",
                    "--junit", str(outputs / "out.xml"), "--html", str(outputs / "out.html")),
        "secrets-verbose": ("probe", lab.url("/mcp/healthy"), *mcp, "-v", *SECRETS[:2]),
        **{path: ("probe", lab.url(path), "--profile", "mcp", "--duration", "2", "--timeout",
                  "2", "--json", "-") for path in NOT_MCP},
        "legacy": ("probe", lab.url("/mcp/legacy"), "--profile", "mcp", "--duration", "4",
                   "--json", "-"),
        "modern": ("probe", lab.url("/mcp/modern"), *mcp,
                   "--call", "add", "--args", '{"a": 2, "b": 40}', "--json", "-"),
        "unsupported": ("probe", lab.url("/mcp/modern-unsupported"), *mcp, "--json", "-"),
        "asked-2025": ("probe", lab.url("/mcp/modern"), *mcp,
                       "--mcp-version", "2025-06-18", "--json", "-"),
    })


def finished(runs: dict, name: str) -> subprocess.CompletedProcess[str]:
    run = runs[name]
    out, err = run.communicate(timeout=90)
    assert run.returncode is not None
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def test_every_lab_mcp_server_gets_exactly_its_diagnosis(runs: dict) -> None:
    reports = {}
    for s in MCP:
        proc = finished(runs, s.name)
        assert proc.stderr == "", (s.name, proc.stderr)
        reports[s.name] = (json.loads(proc.stdout), proc.returncode)
    assert {s.name for s in MCP} >= {"mcp-healthy", "mcp-session-lost", "mcp-legacy"}
    for s in MCP:
        report, rc = reports[s.name]
        found = {f["code"] for f in report["findings"]}
        assert found == set(s.expect), (s.name, report["findings"], report["profile"]["steps"])
        assert report["profile"]["name"] == "mcp" and report["profile"]["steps"]
        errors = any(f["severity"] == "error" for f in report["findings"])
        assert rc == (1 if errors else 0), s.name
    healthy = reports["mcp-healthy"][0]["profile"]
    assert healthy["metrics"]["resume"] == "ok"
    # A 2025 server: discover is not understood, so the 2025 session is walked.
    assert healthy["metrics"]["revision"] == "2025-06-18"
    assert [st["step"] for st in healthy["steps"]] == [
        "server/discover", "initialize", "notifications/initialized", "tools/list",
        "GET stream", "resume", "DELETE", "after DELETE"]


def test_the_terminal_shows_each_step_under_the_verdict(runs: dict) -> None:
    r = finished(runs, "terminal")
    assert r.returncode == 1
    out = r.stdout
    assert out.index("ERROR") < out.index("initialize: 200") < out.index("tools/list: 200")
    assert "mcp-response-missing" in out and "without the JSON-RPC response" in out


def test_secrets_never_reach_an_output(runs: dict, outputs: pathlib.Path) -> None:
    junit, html = outputs / "out.xml", outputs / "out.html"
    r = finished(runs, "secrets")
    report = json.loads(r.stdout)
    assert {f["code"] for f in report["findings"]} == {"mcp-session-lost"}
    sid = report["profile"]["metrics"]["session"]
    assert sid.endswith("…") and len(sid) == 9
    for text in (r.stdout, r.stderr, junit.read_text(), html.read_text()):
        assert "sekrit" not in text
    page = html.read_text()  # the HTML shows the profile: its metrics and steps
    assert "Protocol profile" in page and "notifications/initialized" in page
    assert sid in page and "mcp-session-lost" in page
    # JUnit: one testcase per check of the profile, the lost session failing.
    from junitparser import JUnitXml

    cases = {c.name: c for c in next(iter(JUnitXml.fromfile(str(junit))))}
    assert {"mcp-initialize-failed", "mcp-session-lost", "mcp-resume-broken"} <= set(cases)
    assert not cases["mcp-session-lost"].is_passed and cases["mcp-resume-broken"].is_passed
    verbose = finished(runs, "secrets-verbose")
    assert "sekrit" not in verbose.stdout and "…" in verbose.stdout


@pytest.mark.parametrize("args, words", [
    (("--profile", "mcp", "--mcp-version", "latest"), "--mcp-version 'latest'"),
    (("--mcp-version", "2025-03-26"), "--mcp-version needs --profile mcp"),
    (("--profile", "none", "--mcp-version", "2025-03-26"), "--mcp-version needs --profile mcp"),
])
def test_bad_profile_options_are_one_line_and_exit_2(lab: LabServer, args: tuple[str, ...],
                                                     words: str) -> None:
    r = cli("probe", lab.url("/mcp/healthy"), *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("sse-doctor: error: ") and r.stderr.count("\n") == 1
    assert words in r.stderr


def test_mcp_on_a_websocket_url_is_exit_2() -> None:
    r = cli("probe", "ws://127.0.0.1:9/mcp", "--profile", "mcp")
    assert r.returncode == 2 and "--profile mcp needs an http:// or https:// URL" in r.stderr


def test_an_mcp_server_that_is_down_is_unreachable_exit_3() -> None:
    from tests.support import free_port

    r = cli("probe", f"http://127.0.0.1:{free_port()}/mcp", "--profile", "mcp", "--json", "-",
            "--timeout", "2")
    assert r.returncode == 3
    assert [f["code"] for f in json.loads(r.stdout)["findings"]] == ["target-unreachable"]


def test_a_suite_check_of_an_mcp_session_gets_the_time_its_requests_may_take() -> None:
    from sse_doctor.commandline import parse_args
    from sse_doctor.plan import plan_command

    def budget(*args: str) -> float:
        params = parse_args("probe", ["http://127.0.0.1:9/mcp", "--duration", "4",
                                          "--timeout", "3", *args])
        return plan_command("probe", params).budget_s

    assert budget("--profile", "none") == 4 + 2 * 3 + 2.0
    assert budget("--profile", "mcp") == 4 + 9 * 3 + 2.0


@pytest.mark.parametrize("path", NOT_MCP)
def test_servers_that_are_not_mcp_at_all_get_findings_not_tracebacks(runs: dict,
                                                                     path: str) -> None:
    r = finished(runs, path)
    assert r.returncode == 1 and r.stderr == ""
    report = json.loads(r.stdout)
    assert "mcp-initialize-failed" in {f["code"] for f in report["findings"]}


def test_a_server_stream_idle_between_messages_is_not_stalled(runs: dict) -> None:
    # The old transport's stream: three events, then only keepalive comments.
    r = finished(runs, "legacy")
    report = json.loads(r.stdout)
    assert report["stats"]["comments"] >= 3 and report["stats"]["events"] == 3
    assert {f["code"] for f in report["findings"]} == {"mcp-legacy-transport"}


def test_modern_lab_servers_are_walked_in_2026_07_28(runs: dict) -> None:
    out = {k: (json.loads(r.stdout), r.returncode)
           for k in ("modern", "unsupported", "asked-2025") for r in [finished(runs, k)]}
    report, rc = out["modern"]
    assert rc == 0 and report["findings"] == []
    m = report["profile"]["metrics"]
    assert m["revision"] == "2026-07-28" and m["listen"] == "ok" and m["call"] == "ok"
    assert m["negotiation"] == "discover 2026-07-28: 200, supportedVersions ['2026-07-28']"
    call = next(s for s in report["profile"]["steps"] if s["step"] == "tools/call add")
    assert call["detail"].startswith("result: 42")
    # The listen stream's keepalive comments are seen as any stream's.
    assert report["stats"]["comments"] >= 1
    unsupported, rc = out["unsupported"]
    assert rc == 1 and unsupported["profile"]["metrics"]["revisions_supported"] == ["2027-07-28"]
    # A 2025 initialize to a modern-only server: refused, with the server's words.
    old, rc = out["asked-2025"]
    assert rc == 1 and {f["code"] for f in old["findings"]} == {"mcp-initialize-failed"}
    assert "speaks 2026-07-28 only" in old["findings"][0]["detail"]


def _cancel(lab: LabServer, variant: str) -> tuple[str, ...]:
    return ("disconnect", lab.url(f"/mcp/{variant}"), "--profile", "mcp", "--call", "slow",
            "--after", "0.6", "--grace", "2",
            "--watch-json", lab.url(f"/mcp/{variant}/state") + "#running", "--json", "-")


def test_closing_a_calls_stream_must_cancel_it(lab: LabServer) -> None:
    runs = start_cli_together({"healthy": _cancel(lab, "modern"),
                               "runs-on": _cancel(lab, "modern-call-runs-on")})
    out = {k: (json.loads(r.communicate(timeout=60)[0]), r.returncode) for k, r in runs.items()}
    healthy, rc = out["healthy"]
    assert rc == 0 and healthy["findings"] == [], healthy["scenarios"][0]
    broken, rc = out["runs-on"]
    assert rc == 1 and {f["code"] for f in broken["findings"]} == {"mcp-call-not-cancelled"}
    assert "running was 0 before" in broken["findings"][0]["detail"]
    # The follow-up call is served: the server still answers after the drop.
    for report in (healthy, broken):
        steps = [s["text"] for s in report["scenarios"][0]["experiment"]["steps"]]
        assert any(t.startswith("reconnect: accepted (200)") for t in steps), steps


@pytest.mark.parametrize("args, words", [
    (("--profile", "mcp"), "needs --call TOOL"),
    (("--call", "slow", "--profile", "llm"), "only the mcp profile"),
    (("--profile", "mcp", "--call", "slow", "--args", "[1]"), "a JSON object"),
])
def test_the_cancellation_experiment_refuses_bad_input_in_one_line(args: tuple[str, ...],
                                                                   words: str) -> None:
    r = cli("disconnect", "http://127.0.0.1:9/mcp", *args)
    assert r.returncode == 2 and words in r.stderr and r.stderr.count("\n") == 1, r.stderr
