"""End-to-end ingest of one fast SSE stream: `sse-doctor probe` against a plain httpx +
httpx-sse `aiter_sse` client and `curl -sN`, same URL, same run.

    python bench/e2e_bench.py [--events 500000] [--size 100] [--runs 3]

The stream is a pre-generated file served by nginx (a C server, so the server is not the
bottleneck) when nginx is installed, else the lab's firehose route in its own process.
Each client runs as its own process (start-up included for all three); the best of --runs
wall times counts. Prints events/s, MB/s and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager

HTTPX_SSE_CLIENT = textwrap.dedent("""
    import asyncio, sys
    import httpx
    from httpx_sse import aconnect_sse

    async def main(url):
        n = 0
        async with httpx.AsyncClient(timeout=None) as client:
            async with aconnect_sse(client, "GET", url) as source:
                async for _ in source.aiter_sse():
                    n += 1
        print(n)

    asyncio.run(main(sys.argv[1]))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on port {port} after {timeout} s")


def make_stream(events: int, size: int) -> bytes:
    payload = b"x" * max(0, size - 8)
    return b"retry: 3000\n" + b"".join(
        b"id: %d\nevent: tick\ndata: %08d%s\n\n" % (i, i, payload) for i in range(1, events + 1))


@contextmanager
def nginx_server(body: bytes):
    tmp = tempfile.mkdtemp(prefix="sse-bench-")
    os.chmod(tmp, 0o755)  # nginx workers run as another user
    port = free_port()
    with open(os.path.join(tmp, "stream.sse"), "wb") as fh:
        fh.write(body)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(textwrap.dedent(f"""
            worker_processes 1; daemon off; pid {tmp}/nginx.pid;
            error_log {tmp}/error.log warn;
            events {{ worker_connections 64; }}
            http {{
              access_log off;
              client_body_temp_path {tmp}/b; proxy_temp_path {tmp}/p;
              fastcgi_temp_path {tmp}/f; uwsgi_temp_path {tmp}/u; scgi_temp_path {tmp}/s;
              types {{ text/event-stream sse; }}
              server {{
                listen 127.0.0.1:{port};
                root {tmp};
                add_header Cache-Control no-cache;
              }}
            }}
        """))
    proc = subprocess.Popen([shutil.which("nginx") or "nginx", "-p", tmp, "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/stream.sse", "nginx (static file)"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def lab_server(events: int, size: int):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", "lab", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}/sse/firehose?events={events}&size={size}"
        subprocess.run(["curl", "-sN", "-o", "/dev/null", url], check=False)  # warm the cache
        yield url, "lab firehose (uvicorn)"
    finally:
        proc.terminate()
        proc.wait(10)


def timed(cmd: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        # Exit codes are not checked: the probe exits 1 or 0 by its findings.
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd[:4]} failed: {proc.stderr.decode()[-500:]}")
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--server", choices=["auto", "nginx", "lab"], default="auto")
    args = ap.parse_args()

    body = make_stream(args.events, args.size)
    use_nginx = args.server == "nginx" or (args.server == "auto" and shutil.which("nginx"))
    server = nginx_server(body) if use_nginx else lab_server(args.events, args.size)
    with server as (url, kind):
        clients = {
            "sse-doctor probe": [sys.executable, "-m", "sse_doctor", "probe", url,
                                 "--duration", "600", "-q", "--json", os.devnull],
            "httpx + httpx-sse aiter_sse": [sys.executable, "-c", HTTPX_SSE_CLIENT, url],
        }
        if shutil.which("curl"):
            clients["curl -sN"] = ["curl", "-sN", "-o", os.devnull, url]
        times = {name: timed(cmd, args.runs) for name, cmd in clients.items()}

    mb = len(body) / 1e6
    print(f"stream: {args.events} events x {args.size} B data = {mb:.1f} MB from {kind}; "
          f"best of {args.runs}, process start-up included")
    for name, t in times.items():
        print(f"  {name:30s} {t:7.2f} s  {args.events / t:12,.0f} events/s  {mb / t:8.1f} MB/s")
    ours = times["sse-doctor probe"]
    print(f"sse-doctor / httpx-sse speed: {times['httpx + httpx-sse aiter_sse'] / ours:.2f}x"
          " (target >= 1.5x)")
    if "curl -sN" in times:
        print(f"sse-doctor / curl speed:      {times['curl -sN'] / ours:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
