"""End to end: the real `sse-doctor exporter` serving /probe against the lab, queried over HTTP
as Prometheus queries it (one exporter for the module, probes run together)."""

from __future__ import annotations

import concurrent.futures
import pathlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sse_doctor.lab import LabServer
from tests.support.exporter_run import metrics, start_exporter, stop

SECRET = "s3cret-bearer-for-the-exporter-test"
SCRAPE = {"X-Prometheus-Scrape-Timeout-Seconds": "4"}
MAX_CONCURRENT = 6


@dataclass
class Exporter:
    base: str
    proc: subprocess.Popen[bytes]
    log: pathlib.Path
    config: pathlib.Path

    def get(self, path: str, params: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.get(self.base + path, params=params, headers=headers or SCRAPE,
                         timeout=30)

    def probe(self, module: str, target: str, **extra: str) -> httpx.Response:
        return self.get("/probe", {"module": module, "target": target, **extra})








@pytest.fixture(scope="module")
def exporter(lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    folder = tmp_path_factory.mktemp("exporter")
    config = folder / "exporter.toml"
    config.write_text(f"""
[modules.sse]
targets = ["{lab.base_url}/sse/*"]
window = 8
idle_limit = 2

[modules.echo]
# the lab's echo route reflects the request headers into events: the secret must not leak
targets = ["{lab.base_url}/sse/echo*"]
window = 4
bearer_env = "EXPORTER_TEST_TOKEN"

[modules.ws]
targets = ["{lab.base_url.replace('http', 'ws')}/ws/*"]
window = 4
ping_interval = 0.5
""")
    proc, base, log = start_exporter(str(config), "--max-concurrent", str(MAX_CONCURRENT),
                                     env={"EXPORTER_TEST_TOKEN": SECRET})
    try:
        yield Exporter(base, proc, log, config)
    finally:
        stop(proc)


def test_probes_through_the_exporter(exporter: Exporter, lab: LabServer) -> None:
    ws = lab.base_url.replace("http", "ws")
    runs = {
        "healthy": ("sse", f"{lab.base_url}/sse/healthy", {}),
        "stalled": ("sse", f"{lab.base_url}/sse/stalled", {}),
        "http-error": ("sse", f"{lab.base_url}/sse/http-error", {}),
        "ws": ("ws", f"{ws}/ws/healthy-echo", {}),
        "echo": ("echo", f"{lab.base_url}/sse/echo", {}),
        "debug": ("echo", f"{lab.base_url}/sse/echo?api_key=k3y-in-url", {"debug": "true"}),
    }
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        futures = {k: pool.submit(exporter.probe, m, t, **x) for k, (m, t, x) in runs.items()}
        answers = {k: f.result() for k, f in futures.items()}
    assert all(a.status_code == 200 for a in answers.values()), \
        {k: (a.status_code, a.text) for k, a in answers.items()}

    healthy = metrics(answers["healthy"].text)
    assert healthy[("probe_success",)] == 1
    assert healthy[("probe_http_status_code",)] == 200
    assert healthy[("sse_doctor_events_received",)] > 0
    # within the scrape's 4 s, less the 0.5 s offset
    assert healthy[("probe_duration_seconds",)] < 4
    assert healthy[("sse_doctor_probe_deadline_reached",)] == 0

    stalled = metrics(answers["stalled"].text)
    assert stalled[("probe_success",)] == 0
    assert stalled[("sse_doctor_finding", ("code", "stalled-stream"), ("severity", "error"))]

    error = metrics(answers["http-error"].text)
    assert error[("probe_success",)] == 0 and error[("probe_http_status_code",)] == 500

    ws_m = metrics(answers["ws"].text)
    assert ws_m[("probe_success",)] == 1 and ws_m[("probe_http_status_code",)] == 101
    assert ws_m[("sse_doctor_ws_ping_rtt_seconds", ("quantile", "0.5"))] > 0

    # the bearer token from the environment was sent (the echo shows it was received) and
    # never shown: not in the metrics, the debug page or the log
    echo = metrics(answers["echo"].text)
    assert echo[("sse_doctor_events_received",)] > 0
    page = answers["debug"].text
    assert "sse-doctor probe" in page and "Module configuration:" in page
    assert "bearer_env = 'EXPORTER_TEST_TOKEN'" in page
    assert "probe_success" in page
    assert "[REDACTED]" in page
    log = exporter.log.read_text()
    for text in (answers["echo"].text, page, log):
        assert SECRET not in text
        assert "k3y-in-url" not in text
    assert "module=sse" in log and "success=0" in log


def test_openmetrics_by_accept_header(exporter: Exporter, lab: LabServer) -> None:
    answer = exporter.get("/probe", {"module": "sse", "target": f"{lab.base_url}/sse/http-error"},
                          {**SCRAPE, "Accept": "application/openmetrics-text;version=1.0.0"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


def test_the_deadline_answers_with_what_was_seen(exporter: Exporter, lab: LabServer) -> None:
    # the route holds its headers 1.3 s; the scrape leaves 1.5 - 0.5 = 1 s
    answer = exporter.get("/probe", {"module": "sse",
                                     "target": f"{lab.base_url}/sse/delayed-headers"},
                          {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
    m = metrics(answer.text)
    assert m[("sse_doctor_probe_deadline_reached",)] == 1
    assert m[("probe_success",)] == 0 and m[("probe_http_status_code",)] == 0
    assert m[("sse_doctor_finding", ("code", "check-incomplete"), ("severity", "error"))] == 1


def test_refusals(exporter: Exporter, lab: LabServer) -> None:
    other = exporter.probe("sse", "http://169.254.169.254/latest/meta-data/")
    assert other.status_code == 403 and "is not allowed by module 'sse'" in other.text
    cross = exporter.probe("ws", f"{lab.base_url}/sse/healthy")
    assert cross.status_code == 403
    unknown = exporter.probe("nope", f"{lab.base_url}/sse/healthy")
    assert unknown.status_code == 400 and "Unknown module" in unknown.text
    assert exporter.get("/probe", {"module": "sse"}).status_code == 400
    bad = exporter.probe("sse", "http://user@127.0.0.1/sse/x")
    assert bad.status_code == 400
    assert exporter.get("/-/healthy").text == "Healthy\n"
    own = metrics(exporter.get("/metrics").text)
    assert own[("sse_doctor_exporter_probes_refused_total", ("reason", "target-not-allowed"))] >= 2
    assert own[("sse_doctor_exporter_probes_refused_total", ("reason", "unknown-module"))] >= 1


def test_over_the_bound_is_503_not_a_queue(exporter: Exporter, lab: LabServer) -> None:
    # long probes take every slot; one more is refused at once
    slow = {"X-Prometheus-Scrape-Timeout-Seconds": "4"}
    with concurrent.futures.ThreadPoolExecutor(MAX_CONCURRENT) as pool:
        long = [pool.submit(exporter.get, "/probe",
                            {"module": "sse", "target": f"{lab.base_url}/sse/healthy"}, slow)
                for _ in range(MAX_CONCURRENT)]
        while metrics(exporter.get("/metrics").text)[
                ("sse_doctor_exporter_probes_in_flight",)] < MAX_CONCURRENT:
            assert not any(f.done() for f in long)
        busy = exporter.probe("sse", f"{lab.base_url}/sse/healthy")
        assert busy.status_code == 503
        assert all(f.result().status_code == 200 for f in long)
    own = metrics(exporter.get("/metrics").text)
    assert own[("sse_doctor_exporter_probes_refused_total", ("reason", "busy"))] >= 1


def test_reload_keeps_the_old_configuration_when_the_new_one_is_bad(exporter: Exporter,
                                                                    lab: LabServer) -> None:
    good = exporter.config.read_text()
    try:
        exporter.config.write_text(good + "\n[modules.broken]\ntargets = [\"http://h/*\"]\n"
                                   "idle_limit = \"soon\"\n")
        answer = httpx.post(exporter.base + "/-/reload", timeout=30)
        assert answer.status_code == 500
        assert "[modules.broken]: idle_limit" in answer.text
        own = metrics(exporter.get("/metrics").text)
        assert own[("sse_doctor_exporter_config_last_reload_successful",)] == 0
        assert exporter.probe("broken", f"{lab.base_url}/sse/healthy").status_code == 400
        exporter.config.write_text(good.replace("[modules.sse]", "[modules.sse2]"))
        assert httpx.post(exporter.base + "/-/reload", timeout=30).status_code == 200
        assert exporter.probe("sse", f"{lab.base_url}/sse/http-error").status_code == 400
        assert exporter.probe("sse2", f"{lab.base_url}/sse/http-error").status_code == 200
    finally:
        exporter.config.write_text(good)
        assert httpx.post(exporter.base + "/-/reload", timeout=30).status_code == 200
    own = metrics(exporter.get("/metrics").text)
    assert own[("sse_doctor_exporter_config_last_reload_successful",)] == 1
