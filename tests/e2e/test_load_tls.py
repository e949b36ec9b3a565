"""`sse-doctor load` over TLS: one shared context per worker, --cacert and --insecure, and a
certificate it cannot verify turned into refusals of kind "tls", not tracebacks. The lab runs
under uvicorn with a certificate from trustme's throwaway CA."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trustme

from tests.support import cli, free_port, wait_listening


@pytest.fixture(scope="module")
def tls_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_pem, key_pem, cert_pem = tmp / "ca.pem", tmp / "key.pem", tmp / "cert.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sse_doctor.lab.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--ssl-keyfile", str(key_pem),
         "--ssl-certfile", str(cert_pem), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, proc, "the TLS lab")
        yield f"https://127.0.0.1:{port}", str(ca_pem)
    finally:
        proc.terminate()  # our own child, by its handle
        proc.wait(10)


def run(url: str, *args: str) -> dict:
    r = cli("load", url + "/sse/clock?interval=0.2", "--streams", "20", "--ramp", "100",
            "--duration", "1", "--workers", "2", "--json", "-", *args)
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)


def test_tls_streams_with_the_servers_ca(tls_lab) -> None:
    base, ca = tls_lab
    report = run(base, "--cacert", ca)
    assert report["load"]["streams"]["opened"] == 20 and report["findings"] == []


def test_tls_streams_with_insecure(tls_lab) -> None:
    base, _ = tls_lab
    assert run(base, "--insecure")["load"]["streams"]["opened"] == 20


def test_an_unverifiable_certificate_is_refused_as_tls(tls_lab) -> None:
    base, _ = tls_lab
    report = run(base)
    assert report["load"]["refusals"] == {"tls": 20}
    assert [f["code"] for f in report["findings"]] == ["load-refused"]
