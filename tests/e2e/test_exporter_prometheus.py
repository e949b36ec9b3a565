"""End to end with a real Prometheus (Debian's `prometheus` package) scraping the real exporter
probing the lab, with the shipped examples: exporter.toml as is, the scrape jobs and
relabelling of prometheus.yml (targets, addresses and intervals replaced for the test), the
alert rules of alerts.yml (their `for:` shortened to 0s so an alert fires in seconds), and the
Grafana dashboard's queries. Beside it, Debian's blackbox exporter probes the same WebSocket
routes: the metrics the two share agree.

Everything is read through Prometheus' HTTP API, waiting on it with a bound (no sleeps that
assert anything)."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import pathlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml  # the test extra: reads the shipped prometheus.yml and alerts.yml

from sse_doctor.lab import LabServer
from tests.support import free_port, wait_listening
from tests.support.exporter_run import metrics, start_exporter, stop

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "exporter"
PROMETHEUS = shutil.which("prometheus")
BLACKBOX = shutil.which("prometheus-blackbox-exporter")
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or BLACKBOX is None,
    reason="Prometheus and its blackbox exporter are not installed (Debian: apt-get install "
           "prometheus prometheus-blackbox-exporter; .ci/run does)")

WAIT_S = 90.0  # bound on everything Prometheus must show (a busy 2-core machine)
# The SSE job's scrape: 4 s leaves the probe 3.5 s, observing 2.8 s (a stall shows after 2 s)
SSE_SCRAPE_S = "4s"
WS_SCRAPE_S = "3s"  # leaves the probe 2 s: the ws module pings once a second
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": WS_KEY,
           "Sec-WebSocket-Version": "13"}
WS_ROUTES = ("healthy-echo", "reject-origin", "no-upgrade")


def _relabel(job: dict[str, Any], address: str) -> dict[str, Any]:
    """A job with its __address__ replacement pointed at `address` (the shipped relabelling
    otherwise untouched)."""
    job = copy.deepcopy(job)
    rules = [r for r in job["relabel_configs"] if r.get("target_label") == "__address__"]
    assert len(rules) == 1, "the shipped job sets __address__ once"
    rules[0]["replacement"] = address
    return job


def blackbox_config(lab_port: int) -> dict[str, Any]:
    modules: dict[str, Any] = {
        # The classic WebSocket check of blackbox users: the upgrade must answer 101. (On an
        # accepted upgrade it reads the socket until the server closes it, 40 s on the lab:
        # so it only probes the routes that refuse.)
        "ws_upgrade": {"prober": "http", "timeout": "2s",
                       "http": {"valid_status_codes": [101], "headers": UPGRADE}},
    }
    for route in WS_ROUTES:  # the upgrade over TCP, with a regex on the status line
        request = (f"GET /ws/{route} HTTP/1.1\r\nHost: 127.0.0.1:{lab_port}\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in UPGRADE.items()))
        modules[f"ws_tcp_{route}"] = {"prober": "tcp", "timeout": "2s", "tcp": {
            "query_response": [{"send": request}, {"expect": "^HTTP/1.1 101"}]}}
    return {"modules": modules}


def prometheus_config(lab: LabServer, exporter: str, blackbox: str,
                      rules: pathlib.Path) -> dict[str, Any]:
    shipped = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in shipped["scrape_configs"]}
    ws_base = lab.base_url.replace("http://", "ws://")

    sse = _relabel(jobs["sse-doctor-sse"], exporter)
    sse["static_configs"] = [{"targets": [f"{lab.base_url}/sse/{r}"
                                          for r in ("healthy", "stalled", "http-error")]}]
    sse.update(scrape_interval=SSE_SCRAPE_S, scrape_timeout=SSE_SCRAPE_S)
    ws = _relabel(jobs["sse-doctor-ws"], exporter)
    ws["static_configs"] = [{"targets": [f"{ws_base}/ws/{r}" for r in WS_ROUTES]}]
    ws.update(scrape_interval=WS_SCRAPE_S, scrape_timeout=WS_SCRAPE_S)
    own = copy.deepcopy(jobs["sse-doctor-exporter"])
    own["static_configs"] = [{"targets": [exporter]}]
    own["scrape_interval"] = "2s"

    # The blackbox exporter, with the same relabelling as ours.
    bb_http = _relabel(sse, blackbox)
    bb_http.update(job_name="blackbox-ws-http", params={"module": ["ws_upgrade"]},
                   static_configs=[{"targets": [f"{lab.base_url}/ws/{r}"
                                                for r in ("reject-origin", "no-upgrade")]}],
                   scrape_interval=WS_SCRAPE_S, scrape_timeout=WS_SCRAPE_S)
    bb_tcp = [dict(_relabel(sse, blackbox), job_name=f"blackbox-ws-tcp-{r}",
                   params={"module": [f"ws_tcp_{r}"]},
                   static_configs=[{"targets": [f"127.0.0.1:{lab.port}"]}],
                   scrape_interval=WS_SCRAPE_S, scrape_timeout=WS_SCRAPE_S)
              for r in WS_ROUTES]
    return {"global": {"scrape_interval": "2s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [sse, ws, own, bb_http, *bb_tcp]}


def fast_rules(path: pathlib.Path) -> None:
    """The shipped rules with every `for:` at 0s (expressions, labels, annotations as is)."""
    rules = yaml.safe_load((EXAMPLES / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path.write_text(json.dumps(rules))


@dataclass
class Stack:
    lab: LabServer
    api: str
    exporter: str
    # The shipped modules' /probe answers {module: response}, asked for as soon as the
    # exporter listens: they need no Prometheus, and come while its first scrapes are awaited.
    shipped: concurrent.futures.Future[dict[str, httpx.Response]]

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.api}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def wait_for(self, expr: str, count: int = 1) -> list[dict[str, Any]]:
        """The query's result once it has at least `count` series (bounded)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            result = self.query(expr)
            if len(result) >= count:
                return result
            if time.monotonic() > deadline:
                targets = httpx.get(f"{self.api}/api/v1/targets", timeout=10).json()
                health = [(t["scrapeUrl"], t["health"], t["lastError"])
                          for t in targets["data"]["activeTargets"]]
                pytest.fail(f"{expr}: {len(result)} series after {WAIT_S:g} s; {health}")
            time.sleep(0.5)  # polling Prometheus' API: it offers nothing to subscribe to

    def by_path(self, expr: str) -> dict[str, float]:
        """{route path: value} of a query over probe instances (URLs)."""
        return {"/" + s["metric"]["instance"].split("/", 3)[-1]: float(s["value"][1])
                for s in self.query(expr)}


def shipped_module_targets(lab: LabServer) -> dict[str, str]:
    """The shipped exporter.toml's other modules, each on the lab route it was written for."""
    return {"llm": f"{lab.base_url}/llm/openai/healthy/v1/chat/completions",
            "mcp": f"{lab.base_url}/mcp/healthy", "sse_job": f"{lab.base_url}/sse/no-completed"}


def probe_shipped_modules(exporter: str, runs: dict[str, str]) -> dict[str, httpx.Response]:
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        return dict(zip(runs, pool.map(
            lambda kv: httpx.get(f"{exporter}/probe", params={"module": kv[0],
                                                              "target": kv[1]},
                                 headers={"X-Prometheus-Scrape-Timeout-Seconds": "4"},
                                 timeout=30), runs.items())))


def _start(argv: list[str], port: int, what: str, log: pathlib.Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        wait_listening(port, proc, what, wait_s=30)
    except BaseException:
        stop(proc)
        raise
    return proc


@pytest.fixture(scope="module")
def stack(lab: LabServer) -> Iterator[Stack]:
    assert PROMETHEUS is not None and BLACKBOX is not None
    folder = pathlib.Path(tempfile.mkdtemp(prefix="sse-doctor-prometheus-"))
    procs: list[subprocess.Popen[bytes]] = []
    background = concurrent.futures.ThreadPoolExecutor(1)
    try:
        exporter, base, _ = start_exporter(str(EXAMPLES / "exporter.toml"))
        procs.append(exporter)
        shipped = background.submit(probe_shipped_modules, base, shipped_module_targets(lab))
        bb_port = free_port()
        (folder / "blackbox.yml").write_text(json.dumps(blackbox_config(lab.port)))
        procs.append(_start([BLACKBOX, f"--config.file={folder / 'blackbox.yml'}",
                             f"--web.listen-address=127.0.0.1:{bb_port}"],
                            bb_port, "the blackbox exporter", folder / "blackbox.log"))
        fast_rules(folder / "alerts.json")
        config = prometheus_config(lab, base.removeprefix("http://"), f"127.0.0.1:{bb_port}",
                                   folder / "alerts.json")
        (folder / "prometheus.yml").write_text(json.dumps(config))
        port = free_port()
        procs.append(_start([PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}",
                             f"--storage.tsdb.path={folder / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            port, "Prometheus", folder / "prometheus.log"))
        yield Stack(lab, f"http://127.0.0.1:{port}", base, shipped)
    finally:
        background.shutdown(wait=True)  # its requests are bounded (timeout=30)
        for proc in procs:  # all told at once, then each awaited: they shut down together
            proc.terminate()
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def test_prometheus_sees_healthy_and_broken_streams(stack: Stack) -> None:
    stack.wait_for('probe_success{job="sse-doctor-sse"}', 3)
    success = stack.by_path('probe_success{job="sse-doctor-sse"}')
    assert success == {"/sse/healthy": 1.0, "/sse/stalled": 0.0, "/sse/http-error": 0.0}
    status = stack.by_path('probe_http_status_code{job="sse-doctor-sse"}')
    assert status["/sse/http-error"] == 500 and status["/sse/healthy"] == 200
    events = stack.by_path('sse_doctor_events_received{job="sse-doctor-sse"}')
    assert events["/sse/healthy"] > 1


def test_the_stalled_alert_fires_and_names_the_finding(stack: Stack) -> None:
    [stalled] = stack.wait_for('ALERTS{alertname="StreamStalled", alertstate="firing"}')
    assert stalled["metric"]["instance"].endswith("/sse/stalled")
    named = stack.wait_for('ALERTS{alertname="StreamFinding", alertstate="firing", '
                           'code="stalled-stream"}')
    assert named[0]["metric"]["instance"].endswith("/sse/stalled")
    assert named[0]["metric"]["severity"] == "error"  # the finding's own severity
    alerts = httpx.get(f"{stack.api}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    summaries = {a["annotations"]["summary"] for a in alerts
                 if a["labels"]["alertname"] == "StreamFinding"}
    assert any(s.endswith("/sse/stalled: stalled-stream") for s in summaries), summaries
    healthy = stack.query('ALERTS{alertstate="firing", instance=~".*/sse/healthy"}')
    assert healthy == []


def test_side_by_side_with_the_blackbox_exporter(stack: Stack) -> None:
    stack.wait_for('probe_success{job="sse-doctor-ws"}', len(WS_ROUTES))
    stack.wait_for('probe_success{job="blackbox-ws-http"}', 2)
    stack.wait_for('probe_success{job=~"blackbox-ws-tcp-.*"}', len(WS_ROUTES))
    ours = stack.by_path('probe_success{job="sse-doctor-ws"}')
    ours_status = stack.by_path('probe_http_status_code{job="sse-doctor-ws"}')
    # the status code, where blackbox's HTTP upgrade check reads it
    theirs = stack.by_path('probe_success{job="blackbox-ws-http"}')
    theirs_status = stack.by_path('probe_http_status_code{job="blackbox-ws-http"}')
    for path in theirs:
        assert (ours[path], ours_status[path]) == (theirs[path], theirs_status[path]), path
    assert theirs_status == {"/ws/reject-origin": 403.0, "/ws/no-upgrade": 200.0}
    # the upgrade, where its TCP check matches "HTTP/1.1 101" on the status line
    tcp = {s["metric"]["job"].removeprefix("blackbox-ws-tcp-"): float(s["value"][1])
           for s in stack.query('probe_success{job=~"blackbox-ws-tcp-.*"}')}
    for route in WS_ROUTES:
        assert ours[f"/ws/{route}"] == tcp[route], route
        assert (ours_status[f"/ws/{route}"] == 101) == (tcp[route] == 1), route
    assert tcp["healthy-echo"] == 1


def test_the_dashboard_queries_work(stack: Stack) -> None:
    stack.wait_for('sse_doctor_verdict{job="sse-doctor-sse"}', 3)
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text())
    variables = {"$job": ".*", "$instance": ".*", "$__rate_interval": "1m"}
    empty = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for k, v in variables.items():
                expr = expr.replace(k, v)
            assert "$" not in expr, expr
            if not stack.query(expr):
                empty.append(panel["title"])
    # panels over LLM and MCP streams are empty: the test's Prometheus probes none
    assert set(empty) <= {"LLM time to first token", "LLM inter-token latency p95",
                          "MCP revision spoken"}, empty
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"].replace("$job", ".*")
            assert query.startswith("label_values(") and query.endswith(")")
            metric, _, label = query[len("label_values("):-1].rpartition(", ")
            assert stack.query(f"count by ({label}) ({metric})"), query


def test_every_shipped_module_works_as_shipped(stack: Stack) -> None:
    """The shipped exporter.toml's other modules on the lab routes they were written for."""
    runs = shipped_module_targets(stack.lab)
    answers = stack.shipped.result(timeout=60)  # asked for when the exporter started
    assert list(answers) == list(runs)
    llm, mcp, job = (metrics(answers[k].text) for k in runs)
    assert llm[("probe_success",)] == 1
    assert llm[("sse_doctor_llm_time_to_first_token_seconds",)] > 0
    assert llm[("sse_doctor_llm_output_tokens",)] > 0
    assert mcp[("probe_success",)] == 1
    assert [k for k in mcp if k[0] == "sse_doctor_mcp_revision_info"]
    assert job[("probe_success",)] == 0
    assert job[("sse_doctor_finding", ("code", "missing-expected-event"), ("severity", "error"))]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool comes with Debian's prometheus")
def test_promtool_accepts_the_shipped_files() -> None:
    assert PROMTOOL is not None
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        run = subprocess.run([PROMTOOL, *args], cwd=EXAMPLES, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
