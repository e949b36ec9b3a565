"""End to end: outputs, exit codes, bad input, secrets, bounds - the real CLI against the lab."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET

import pytest

from sse_doctor.codes import REGISTRY
from sse_doctor.lab.load_scenarios import LLM_LOAD_SCENARIOS
from tests.support import cli, cli_fresh, start_cli_together, stop_with_ctrl_c

QUICK = ("--duration", "1.5", "--idle-limit", "2")
STALL = ("--duration", "3", "--idle-limit", "2")  # a stall needs 2 s of data silence


def one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_demo_json_diagnoses_every_scenario() -> None:
    proc = cli("demo", "--json", "-", timeout=120)
    report = json.loads(proc.stdout)
    assert report["schema"] == "sse-doctor/report@1" and report["command"] == "demo"
    assert report["target"]["protocol"] == "mixed"  # SSE and WebSocket scenarios
    mismatched = [(s["name"], s["expected"], [f["code"] for f in s["findings"]])
                  for s in report["scenarios"] if {f["code"] for f in s["findings"]}
                  != set(s["expected"])]
    assert mismatched == []
    assert proc.returncode == 0
    healthy = next(s for s in report["scenarios"] if s["name"] == "healthy")
    assert healthy["findings"] == [] and healthy["stats"]["events"] >= 5
    found = {f["code"] for s in report["scenarios"] for f in s["findings"]}
    sse_codes = {"http-error", "not-event-stream", "missing-no-cache", "compressed-stream",
                 "delayed-headers", "buffered-delivery", "no-heartbeat", "stalled-stream",
                 "repeated-payload", "missing-expected-event", "no-server-timeout",
                 "premature-close", "low-retry", "no-event-ids", "malformed-stream",
                 "client-divergence", "target-unreachable"}
    assert sse_codes <= found
    # the LLM load row, as the demo shows it: run by its own child process, read back with the
    # LLM load checks
    [llm_row] = [s for s in report["scenarios"] if s["name"] == LLM_LOAD_SCENARIOS[0].name]
    assert "llm-load-queueing" in llm_row["checks_run"]


SECRET, QUERY_SECRET = "s3cr3t-bearer-value", "q-secret-123"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("cli-outputs")
    (folder / "body.json").write_text('{"prompt": "hi"}')
    return folder


@pytest.fixture(scope="module")
def runs(lab, files) -> dict:
    """The module's probes of the lab, started together (the module takes the longest
    window, not the sum): each has its own stream."""
    stale = lab.url("/sse/stale")
    secrets = ("probe", lab.url(f"/sse/echo?access_token={QUERY_SECRET}&page=2"),
               "--bearer", SECRET, "--cookie", "sid=cookie-secret-9",
               "-H", "X-Trace: plain-visible", "-H", "X-Api-Key: api-key-secret-7", *QUICK, "-v")
    return start_cli_together({
        # one probe of the stalled route, shared by the tests of its JSON file and of the
        # terminal report it prints on stdout beside it
        "stalled": ("probe", lab.url("/sse/stalled"), *STALL, "--json",
                    str(files / "stalled.json")),
        "verbose": ("probe", lab.url("/sse/finite"), *QUICK, "-v"),
        "junit": ("probe", stale, *QUICK, "--junit", str(files / "stale.xml"),
                  "--fail-on", "warning", "-q"),
        "never": ("probe", stale, *QUICK, "-q", "--fail-on", "never"),
        "error": ("probe", stale, *QUICK, "-q"),
        "secrets-json": (*secrets, "--json", "-"),
        "secrets-junit": (*secrets, "--junit", str(files / "secrets.xml")),
        "post": ("probe", lab.url("/sse/echo"), "-X", "POST", "-d",
                 f"@{files / 'body.json'}", *QUICK, "--json", "-"),
        "huge-line": ("probe", lab.url("/sse/huge-line"), *QUICK, "--json", "-"),
    })


def finished(runs: dict, name: str) -> subprocess.CompletedProcess[str]:
    run = runs[name]
    out, err = run.communicate(timeout=60)
    assert run.returncode is not None
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


@pytest.fixture(scope="module")
def stalled(runs, files) -> tuple[subprocess.CompletedProcess[str], pathlib.Path]:
    return finished(runs, "stalled"), files / "stalled.json"


def test_json_report_follows_the_schema(lab, stalled) -> None:
    proc, out = stalled
    assert proc.returncode == 1
    report = json.loads(out.read_text())
    assert set(report) == {"schema", "tool_version", "command", "target", "started_at",
                           "duration_s", "verdict", "findings", "connection", "stats",
                           "events", "comments", "messages", "close", "scenarios"}
    assert report["target"] == {"url": lab.url("/sse/stalled"), "protocol": "sse"}
    assert report["verdict"] == "error"
    (f,) = report["findings"]
    assert set(f) == {"code", "severity", "title", "detail", "evidence"}
    assert f["code"] == "stalled-stream" and f["evidence"]["keepalive_reads"] >= 3
    conn = report["connection"]
    assert conn["status"] == 200 and conn["http_version"] == "HTTP/1.1"
    assert conn["headers_ms"] <= conn["ttfb_ms"] <= conn["first_event_ms"]
    assert report["events"][0] == {"t_ms": report["events"][0]["t_ms"], "event": "progress",
                                   "data": '{"step": 1}', "id": "1", "retry": 3000}
    assert report["comments"][0]["text"] == " ping"
    assert report["stats"]["comments"] == len(report["comments"])
    assert report["close"]["by"] == "deadline"
    assert report["stats"]["gap_ms"]["max"] < 1000


def test_terminal_report_puts_the_verdict_and_advice_first(stalled) -> None:
    proc, _ = stalled
    out = proc.stdout
    assert proc.returncode == 1
    assert out.index("ERROR") < out.index("What to do") < out.index("Connection")
    assert REGISTRY["stalled-stream"].advice.split()[0] in out
    assert "Timeline" in out


def test_verbose_shows_the_raw_timeline(runs) -> None:
    proc = finished(runs, "verbose")
    assert "raw timeline" in proc.stdout and "comment" not in proc.stdout.split("raw")[0][:0]
    assert proc.stdout.count("event") >= 5


def test_junit_has_one_testcase_per_check_and_fails_on_findings(runs, files) -> None:
    path = files / "stale.xml"
    proc = finished(runs, "junit")
    assert proc.returncode == 1  # repeated-payload is a warning
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    names = [c.get("name") for c in cases]
    assert len(names) == len(set(names)) >= 15
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["repeated-payload"]
    assert root.get("failures") == "1" and root.get("tests") == str(len(cases))


def test_fail_on_never_and_error(runs) -> None:
    assert finished(runs, "never").returncode == 0
    assert finished(runs, "error").returncode == 0  # only a warning


def test_max_events_ends_the_stream_early(lab) -> None:
    proc = cli("probe", lab.url("/sse/healthy"), "--duration", "20", "--max-events", "3",
               "--json", "-")
    report = json.loads(proc.stdout)
    assert report["stats"]["events"] == 3 and report["close"]["by"] == "client"
    assert report["duration_s"] < 20


def test_max_events_is_exact_when_one_read_carries_many_events(lab) -> None:
    proc = cli("probe", lab.url("/sse/firehose?events=20000"), "--max-events", "5",
               "--json", "-")
    report = json.loads(proc.stdout)
    assert report["stats"]["events"] == 5 and len(report["events"]) == 5
    assert report["close"]["by"] == "client"


def test_secrets_are_redacted_everywhere(runs, files) -> None:
    secret, qsecret = SECRET, QUERY_SECRET
    junit_path = files / "secrets.xml"
    outputs = {name: (p.stdout, p.stderr) for name in ("json", "junit")
               for p in [finished(runs, f"secrets-{name}")]}
    for name, (out, err) in outputs.items():
        text = out + err + (junit_path.read_text() if name == "junit" else "")
        assert secret not in text and qsecret not in text and "cookie-secret-9" not in text
        assert "api-key-secret-7" not in text  # x-api-key is masked like Authorization
        assert "[REDACTED]" in text
    report = json.loads(outputs["json"][0])
    echoed = report["events"][0]["data"]
    assert "plain-visible" in echoed  # the echo really carried our headers
    assert "page=2" in report["target"]["url"]


def test_post_with_json_body(runs) -> None:
    proc = finished(runs, "post")
    echo = json.loads(json.loads(proc.stdout)["events"][0]["data"])
    assert echo["method"] == "POST"
    assert '"prompt"' in echo["body"]
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "text/event-stream"


def test_huge_line_is_cut_and_memory_stays_bounded(runs) -> None:
    proc = finished(runs, "huge-line")
    report = json.loads(proc.stdout)
    first = report["events"][0]
    assert first.get("truncated") is True and len(first["data"]) <= 64 * 1024
    assert report["stats"]["bytes"] > 10_000_000
    (f,) = report["findings"]
    assert f["code"] == "malformed-stream"


@pytest.mark.parametrize("args, needle", [
    (("probe", "ftp://example.com/x"), "unsupported URL"),
    (("probe", "http://"), "no host"),
    (("probe", "http://127.0.0.1:99999/"), "invalid URL"),
    (("probe", "http://127.0.0.1/", "--fail-on", "sometimes"), "--fail-on"),
    (("probe", "http://127.0.0.1/", "--duration", "0"), "--duration"),
    (("probe", "http://127.0.0.1/", "--duration", "abc"), "'abc' is not a number"),
    (("probe", "http://127.0.0.1/", "--timeout", "nan"), "'nan' is not a finite number"),
    (("probe", "http://127.0.0.1/", "--duration", "inf"), "'inf' is not a finite number"),
    (("probe", "http://127.0.0.1/", "--max-events", "1.5"), "'1.5' is not a whole number"),
    (("probe", "http://127.0.0.1/", "--fail-on", "x"), "not one of error, warning, never"),
    (("load", "http://127.0.0.1/", "--ramp", "nan"), "--ramp"),
    (("probe", "http://127.0.0.1/", "--bogus"), "--bogus"),
    (("probe", "http://127.0.0.1/", "-d", "@/nonexistent/body.json"), "cannot read"),
    (("probe", "http://127.0.0.1/", "-H", "NoColonHere"), "invalid header"),
    (("probe", "http://127.0.0.1/", "--json", "/nonexistent/dir/r.json"), "cannot write"),
    (("probe", "http://127.0.0.1/", "--cacert", "/nonexistent.pem"), "cacert"),
    (("probe",), "URL"),
])
def test_bad_input_gets_one_line_and_exit_2(args, needle) -> None:
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in one_error_line(proc)


def test_refused_connection_exits_3() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli("probe", f"http://127.0.0.1:{port}/", "--timeout", "2")
    assert proc.returncode == 3
    assert "refused" in proc.stdout and "Traceback" not in proc.stderr


def test_dns_failure_exits_3() -> None:
    proc = cli("probe", "http://no-such-host.invalid/", "--timeout", "3", "--json", "-")
    assert proc.returncode == 3
    (f,) = json.loads(proc.stdout)["findings"]
    assert f["code"] == "target-unreachable" and "DNS" in f["detail"]


@pytest.mark.parametrize("scheme, says", [
    ("http", "connected and sent the request, but no response head within 2 s"),
    ("https", "connected, but the TLS handshake did not finish within 2 s"),
])
def test_server_that_accepts_but_never_answers_times_out_with_exit_3(scheme, says) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        # 2 s, not 1: the message says how far the request got within the timeout, and a
        # process starved of CPU for a second on a busy machine had not yet seen its connect.
        proc = cli("probe", f"{scheme}://127.0.0.1:{port}/", "--timeout", "2", "--json", "-")
        assert proc.returncode == 3
        (f,) = json.loads(proc.stdout)["findings"]
        assert f["code"] == "target-unreachable" and f"timeout: {says}" in f["detail"]
    finally:
        stop.set()
        thread.join(2)
        for s in held:
            s.close()
        listener.close()


def test_a_timeout_says_how_far_the_request_got() -> None:
    from sse_doctor.sse.transport import timeout_reason

    assert timeout_reason(set(), 2, False) == "timeout: could not connect within 2 s"
    assert timeout_reason({"connect_tcp"}, 2, False) == (
        "timeout: connected, but the request could not be sent within 2 s")
    assert "TLS handshake" in timeout_reason({"connect_tcp"}, 2, True)
    assert "request could not be sent" in timeout_reason({"connect_tcp", "start_tls"}, 2, True)
    assert "holds the response back" in timeout_reason(
        {"connect_tcp", "start_tls", "send_request_headers"}, 2.5, True)


def test_version_and_module_entry_point() -> None:
    from sse_doctor.sse.parser import COMPILED

    proc = cli_fresh("--version")  # a new interpreter: `python -m sse_doctor` itself
    assert proc.returncode == 0 and proc.stdout.startswith("sse-doctor ")
    assert ("(SSE parser: compiled)" in proc.stdout) == COMPILED


def test_lab_command_lists_routes_serves_them_and_stops_on_ctrl_c() -> None:
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", "lab", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "COLUMNS": "80"})
    try:
        lines = []
        for line in proc.stdout:  # the table is printed once the server accepts connections
            lines.append(line)
            if "/sse/silent" in line:
                break
        listing = "".join(lines)
        assert lines[0].startswith(f"sse-doctor lab on http://127.0.0.1:{port} ")
        stalled = next(line for line in lines if line.split()[:1] == ["/sse/stalled"])
        assert "stalled-stream" in stalled
        assert all(len(line.rstrip("\n")) <= 80 for line in lines) and "…" not in listing
        probe = cli("probe", f"http://127.0.0.1:{port}/sse/stale", *QUICK, "--json", "-")
        assert {f["code"] for f in json.loads(probe.stdout)["findings"]} == {"repeated-payload"}
    finally:
        stop_with_ctrl_c(proc)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr.read()


def test_lab_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        proc = cli("lab", "--port", str(s.getsockname()[1]))
    assert proc.returncode == 2
    assert "cannot serve the lab" in one_error_line(proc)
