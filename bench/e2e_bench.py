"""End-to-end ingest of two fast SSE streams: `sse-doctor probe` against the two plain
httpx-sse clients (async `aiter_sse` and the faster synchronous `httpx.Client` +
`connect_sse` + `iter_sse`) and `curl -sN`, same URLs, same run.

    python bench/e2e_bench.py [--events 500000] [--size 100] [--comment-every 50] [--runs 3]

The streams (events only; the same events with a heartbeat comment after every 50th) are
pre-generated files served by nginx (a C server, so the server is not the bottleneck) when
nginx is installed, else the lab's firehose route in its own process. Each client runs as its
own process (start-up included for all); the best of --runs wall times counts. Prints
events/s, MB/s and the ratios against each baseline and the faster one.
"""

from __future__ import annotations

import argparse
import os
import resource
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


HTTPX_SSE_SYNC_CLIENT = textwrap.dedent("""
    import sys
    import httpx
    from httpx_sse import connect_sse

    n = 0
    with httpx.Client(timeout=None) as client:
        with connect_sse(client, "GET", sys.argv[1]) as source:
            for _ in source.iter_sse():
                n += 1
    print(n)
""")

PROBE = "sse-doctor probe"
AIO = "httpx + httpx-sse aiter_sse"
SYNC = "httpx.Client + httpx-sse iter_sse"
CURL = "curl -sN"
BASELINES = (AIO, SYNC)


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


def make_stream(events: int, size: int, comment_every: int = 0) -> bytes:
    """`events` events of `size` data bytes; with `comment_every` N, a heartbeat comment
    after every N-th event (the shape of a real feed: a server that also keeps it alive)."""
    payload = b"x" * max(0, size - 8)
    parts = [b"retry: 3000\n"]
    for i in range(1, events + 1):
        parts.append(b"id: %d\nevent: tick\ndata: %08d%s\n\n" % (i, i, payload))
        if comment_every and i % comment_every == 0:
            parts.append(b": heartbeat %d\n\n" % i)
    return b"".join(parts)


@contextmanager
def nginx_server(bodies: dict[str, bytes]):
    tmp = tempfile.mkdtemp(prefix="sse-bench-")
    os.chmod(tmp, 0o755)  # nginx workers run as another user
    port = free_port()
    for name, body in bodies.items():
        with open(os.path.join(tmp, f"{name}.sse"), "wb") as fh:
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
        yield {name: f"http://127.0.0.1:{port}/{name}.sse" for name in bodies}, \
            "nginx (static files)"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def lab_server(events: int, size: int, names: list[str]):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", "lab", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}/sse/firehose?events={events}&size={size}"
        subprocess.run(["curl", "-sN", "-o", "/dev/null", url], check=False)  # warm the cache
        # The firehose has no comments: every stream name gets the same one (one event for
        # the start-up row).
        one = f"http://127.0.0.1:{port}/sse/firehose?events=1&size={size}"
        yield ({name: one if name == "start-up" else url for name in names},
               "lab firehose (uvicorn, no comments)")
    finally:
        proc.terminate()
        proc.wait(10)


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one run of cmd in its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # Exit codes are not checked: the probe exits 1 or 0 by its findings.
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed: {proc.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(clients: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Best wall and best CPU time of each client over `runs` rounds. The clients take turns
    within a round, so a burst of load from elsewhere on a shared machine hits them alike."""
    best = {name: (float("inf"), float("inf")) for name in clients}
    for _ in range(runs):
        for name, cmd in clients.items():
            wall, cpu = run_once(cmd)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--comment-every", type=int, default=50,
                    help="the second stream has a comment after every N-th event")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--server", choices=["auto", "nginx", "lab"], default="auto")
    args = ap.parse_args()

    # "start-up": one event, so each client's time is its fixed cost (interpreter, imports,
    # argument parsing, connecting), the part of the other rows that is not ingest.
    bodies = {"events": make_stream(args.events, args.size),
              "events+comments": make_stream(args.events, args.size, args.comment_every),
              "start-up": make_stream(1, args.size)}
    use_nginx = args.server == "nginx" or (args.server == "auto" and shutil.which("nginx"))
    server = nginx_server(bodies) if use_nginx else lab_server(args.events, args.size,
                                                               list(bodies))
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with server as (urls, kind):
        for name, url in urls.items():
            clients = {
                PROBE: [sys.executable, "-m", "sse_doctor", "probe", url,
                        "--duration", "600", "-q", "--json", os.devnull],
                AIO: [sys.executable, "-c", HTTPX_SSE_CLIENT, url],
                SYNC: [sys.executable, "-c", HTTPX_SSE_SYNC_CLIENT, url],
            }
            if shutil.which("curl"):
                clients[CURL] = ["curl", "-sN", "-o", os.devnull, url]
            results[name] = timed(clients, args.runs)

    print(f"server: {kind}; best of {args.runs} (wall and CPU time each), process start-up "
          "included")
    worst = float("inf")
    fixed = results.pop("start-up", None)
    for name, times in results.items():
        mb = len(bodies[name]) / 1e6
        what = (f"a comment after every {args.comment_every} events"
                if name == "events+comments" else "events only")
        print(f"stream {name!r}: {args.events} events x {args.size} B data, {what}, "
              f"{mb:.1f} MB")
        for client, (wall, cpu) in times.items():
            print(f"  {client:36s} {wall:6.2f} s wall {cpu:6.2f} s CPU "
                  f"{args.events / wall:11,.0f} events/s {mb / wall:7.1f} MB/s")
        ours, ours_cpu = times[PROBE]
        fastest = min(BASELINES, key=lambda b: times[b][0])
        ratio = times[fastest][0] / ours
        worst = min(worst, ratio)
        for base in BASELINES:
            print(f"  sse-doctor / {base}: {times[base][0] / ours:.2f}x wall, "
                  f"{times[base][1] / ours_cpu:.2f}x CPU")
        print(f"  sse-doctor / the faster baseline ({fastest}): {ratio:.2f}x (target >= 2x)")
        if CURL in times:
            print(f"  sse-doctor / curl: {times[CURL][0] / ours:.2f}x")
    if fixed is not None:
        print("start-up (a one-event stream: the fixed cost inside every row above)")
        for client, (wall, cpu) in fixed.items():
            print(f"  {client:36s} {wall:6.2f} s wall {cpu:6.2f} s CPU")
    print(f"worst wall-time ratio against the faster baseline: {worst:.2f}x (target >= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
