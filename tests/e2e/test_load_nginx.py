"""`sse-doctor load` against a real nginx out of worker_connections in front of the lab: the
streams past its capacity are turned away (a 500 when it has no connection left for the
upstream, a close or reset when it has none for the client), which must come out as
load-refused, the rest held."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import cli, free_port
from tests.support.nginx import NGINX, SKIP_REASON, accepts, stop

TEMPLATE = Path(__file__).resolve().parents[2] / "fixtures" / "proxy" / "nginx-load-limit.conf"
pytestmark = pytest.mark.skipif(NGINX is None, reason=SKIP_REASON)


@pytest.fixture(scope="module")
def capped_nginx(lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    prefix = tmp_path_factory.mktemp("nginx-load")
    for _ in range(3):  # another process may take the free port before nginx binds it
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(TEMPLATE.read_text().replace("@PREFIX@", str(prefix))
                        .replace("@PORT@", str(port))
                        .replace("@UPSTREAM@", lab.base_url.removeprefix("http://")))
        proc = subprocess.Popen([NGINX, "-p", f"{prefix}/", "-e", str(prefix / "error.log"),
                                 "-c", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and not accepts(port):
            time.sleep(0.05)  # until it listens: nothing to subscribe to
        if proc.poll() is None and accepts(port):
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                stop(proc)
            return
        stop(proc)
    pytest.fail("nginx did not start")


def test_nginx_out_of_worker_connections_is_load_refused_without_a_status(
        lab, capped_nginx) -> None:
    r = cli("load", capped_nginx + "/sse/clock?interval=0.5", "--streams", "60", "--ramp",
            "100", "--duration", "2", "--workers", "2", "--timeout", "3", "--json", "-")
    report = json.loads(r.stdout)
    load = report["load"]
    assert [f["code"] for f in report["findings"]] == ["load-refused"], r.stderr
    assert 10 <= load["streams"]["opened"] < 30  # about 19 fit in 40 connections
    assert load["streams"]["opened"] + load["streams"]["failed"] == 60
    # Out of connections nginx drops a client it cannot take (closed, reset) and answers 500
    # to one it took but cannot connect upstream for.
    assert set(load["refusals"]) <= {"500", "closed", "reset", "timeout"}, load["refusals"]
    deadline = time.monotonic() + 15
    while lab.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.active_requests == 0
