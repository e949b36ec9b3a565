"""`sse-doctor load` against an httpx + httpx-sse client, N streams at one heartbeat a second.

    python bench/load_bench.py [--n 1000 5000 10000] [--duration 60] [--baseline-n 1000 ...]
                               [--floor-n N ...] [--workers W] [--server-processes 1]
                               [--ramp 1000] [--json PATH]

For each N a fresh stamping server (bench/stamp_server.py, asyncio: `: t=<perf_counter>` every
--interval s per stream at a random phase) runs in its own process(es) on 127.0.0.1, and
`python -m sse_doctor load URL --streams N --ramp R --duration D --workers W --json` holds the
streams; its JSON gives opened streams, the hold phase's lag percentiles and the generator's
memory per stream. The baseline (httpx AsyncClient, 250 connections per client, httpx-sse's
aconnect_sse, lines via aiter_lines because aiter_sse drops comments) runs in its own process
at --baseline-n (the N it can still hold; 5,000 saturates a core, README Scale). The floor
(--floor-n, default the baseline's N) is what the same streams cost a bare asyncio.Protocol on
uvloop that only counts its reads, in as many processes as sse-doctor has workers: the loop
wake-ups and recv calls no client can avoid.

Client CPU is the client process tree's user+sys time while it only holds streams (from 2 s
after the ramp to 2 s before the end), divided by the heartbeats received meanwhile: µs per
heartbeat; memory is RSS growth per open stream; CPU pressure is the machine's (Linux PSI
"some" over the last minute: how often something waited for a CPU). On Linux perf_counter
is one clock (CLOCK_MONOTONIC) for every process, so lag = arrival - stamp (the hold
phase's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StampServer:
    def __init__(self, interval: float, processes: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "bench" / "stamp_server.py"), "--port", str(self.port),
             "--interval", str(interval), "--processes", str(processes)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "ready" not in line:
            raise RuntimeError("the stamp server did not start")
        self.url = f"http://127.0.0.1:{self.port}/stream"

    def stop(self) -> None:
        self.proc.terminate()  # our own child, by its handle
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_pressure() -> float | None:
    """The share of the last minute in which some runnable task waited for a CPU (Linux PSI):
    on a shared machine, what inflates lags that are not ours."""
    try:
        with open("/proc/pressure/cpu") as fh:
            return float(fh.readline().split()[2].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def tree_cpu_s(proc: psutil.Process) -> float:
    """User+sys seconds of a live process and its live children."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def hold_window(n: int, args: argparse.Namespace) -> tuple[float, float]:
    """Seconds after launch between which the client only holds streams: after start-up
    (~2 s on a busy machine) and the ramp, and before the end of the hold."""
    start = 2.0 + n / args.ramp + 2.0
    return start, start + max(1.0, args.duration - 4.0)


def run_doctor(url: str, n: int, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "load.json"
        cmd = [PY, "-m", "sse_doctor", "load", url, "--streams", str(n), "--ramp",
               str(args.ramp), "--duration", str(args.duration), "--idle-limit",
               str(max(5.0, 5 * args.interval)), "--json", str(out), "-q",
               "--fail-on", "never"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=ROOT)
        proc = psutil.Process(popen.pid)
        w0, w1 = hold_window(n, args)
        time.sleep(max(0.0, t0 + w0 - time.perf_counter()))
        c0, m0 = tree_cpu_s(proc), time.perf_counter()
        time.sleep(max(0.0, t0 + w1 - time.perf_counter()))
        c1, m1 = tree_cpu_s(proc), time.perf_counter()
        _, err = popen.communicate()
        if not out.exists():
            return {"client": "sse-doctor", "n": n, "error": err.strip()[-300:]}
        report = json.loads(out.read_text())
    load = report["load"]
    hold = next(p for p in load["phases"] if p["name"] == "hold")
    # heartbeats a second while holding: the series' seconds inside the hold, edges left out
    rates = [s["events_per_s"] for s in load["series"]
             if hold["start_s"] + 1 <= s["t_s"] <= hold["end_s"] - 1]
    rate = sum(rates) / len(rates) if rates else None
    return {"client": "sse-doctor", "n": n, "opened": load["streams"]["peak_open"],
            "failed": load["streams"]["failed"], "dropped": load["streams"]["dropped"],
            "lag_p50": hold["lag_ms"]["p50"], "lag_p99": hold["lag_ms"]["p99"],
            "lag_max": hold["lag_ms"]["max"], "beats_per_s": rate,
            "cpu_pct": 100 * (c1 - c0) / (m1 - m0),
            "us_per_beat": 1e6 * (c1 - c0) / (rate * (m1 - m0)) if rate else None,
            "kib_per_stream": load["generator"]["kib_per_stream"],
            "loop": load["loop"], "workers": load["workers"],
            "findings": [f["code"] for f in report["findings"]]}


def run_baseline(url: str, n: int, args: argparse.Namespace) -> dict:
    proc = subprocess.run([PY, __file__, "--baseline-client", url, "--n", str(n), "--duration",
                           str(args.duration), "--ramp", str(args.ramp)],
                          capture_output=True, text=True, check=False)
    try:
        res = json.loads(proc.stdout)
    except ValueError:
        return {"client": "httpx-sse", "n": n, "error": proc.stderr.strip()[-300:]}
    return {**res, "client": "httpx-sse", "n": n}


# --- the baseline client (runs in its own process) -----------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))], 2)


async def baseline_client(url: str, n: int, duration: float, ramp: float) -> dict:
    import httpx
    from httpx_sse import aconnect_sse

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    per_client = 250  # httpcore's pool scans every connection per request (README Scale)
    clients = [httpx.AsyncClient(timeout=httpx.Timeout(30, read=None),
                                 limits=httpx.Limits(max_connections=per_client,
                                                     max_keepalive_connections=0))
               for _ in range((n + per_client - 1) // per_client)]
    stats = {"opened": 0, "failed": 0, "dropped": 0, "items": 0}
    lags: list[float] = []
    holding = False
    perf = time.perf_counter

    async def one(client: httpx.AsyncClient) -> None:
        try:
            async with aconnect_sse(client, "GET", url) as es:
                stats["opened"] += 1
                async for line in es.response.aiter_lines():
                    now = perf()
                    if line:
                        stats["items"] += 1
                    if holding and line.startswith(": t="):
                        lags.append((now - float(line[4:])) * 1000)
                stats["dropped"] += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - counted
            stats["failed"] += 1

    rss0 = _rss()
    tasks = []
    start = perf()
    for i in range(n):
        delay = start + i / ramp - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(clients[i // per_client])))
    deadline = perf() + 30
    while stats["opened"] + stats["failed"] < n and perf() < deadline:
        await asyncio.sleep(0.05)
    holding = True
    await asyncio.sleep(min(2.0, duration / 2))
    c0, m0, i0 = time.process_time(), perf(), stats["items"]
    await asyncio.sleep(max(1.0, duration - 4.0))
    c1, m1, i1 = time.process_time(), perf(), stats["items"]
    await asyncio.sleep(max(0.0, duration - (m1 - m0) - 2.0))
    rss1 = _rss()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in clients:
        await c.aclose()
    return {"opened": stats["opened"], "failed": stats["failed"], "dropped": stats["dropped"],
            "beats_per_s": (i1 - i0) / (m1 - m0), "cpu_pct": 100 * (c1 - c0) / (m1 - m0),
            "us_per_beat": 1e6 * (c1 - c0) / (i1 - i0) if i1 > i0 else None,
            "items": stats["items"], "lag_p50": _pct(lags, 0.5), "lag_p99": _pct(lags, 0.99),
            "lag_max": round(max(lags), 2) if lags else None,
            "kib_per_stream": round((rss1 - rss0) / 1024 / max(1, stats["opened"]), 2)}


def run_floor(url: str, n: int, args: argparse.Namespace) -> dict:
    """The floor: what holding the streams costs before any work per heartbeat. As many
    processes as sse-doctor's workers, each a bare asyncio.Protocol on uvloop that sends the
    same request and only counts its reads (no HTTP, no SSE, no clock): one loop wake-up and
    one recv per heartbeat, or fewer when reads batch."""
    procs = args.workers or os.cpu_count() or 1
    shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    popens = [subprocess.Popen([PY, __file__, "--floor-client", url, "--n", str(share),
                                "--duration", str(args.duration),
                                "--ramp", str(args.ramp / procs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for share in shares if share]
    results = []
    for p in popens:
        out, err = p.communicate()
        try:
            results.append(json.loads(out))
        except ValueError:
            return {"client": "bare uvloop", "n": n, "error": err.strip()[-300:]}
    beats = sum(r["beats"] for r in results)
    cpu = sum(r["cpu_s"] for r in results)
    wall = max(r["wall_s"] for r in results)
    return {"client": f"bare uvloop x{len(results)}", "n": n,
            "opened": sum(r["opened"] for r in results), "failed": n - sum(
                r["opened"] for r in results), "dropped": 0, "lag_p50": None, "lag_p99": None,
            "lag_max": None, "beats_per_s": beats / wall if wall else None,
            "cpu_pct": 100 * cpu / wall if wall else None,
            "us_per_beat": 1e6 * cpu / beats if beats else None,
            "kib_per_stream": round(sum(r["kib"] for r in results) / max(1, n), 2)}


async def floor_client(url: str, n: int, duration: float, ramp: float) -> dict:
    from urllib.parse import urlsplit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    reads = [0]

    class Bare(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.write(request)  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            reads[0] += 1

    loop = asyncio.get_running_loop()
    rss0 = _rss()
    transports = []
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / ramp - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            t, _ = await asyncio.wait_for(
                loop.create_connection(Bare, parts.hostname, parts.port), 10)
            transports.append(t)
        except (OSError, asyncio.TimeoutError):
            pass
    await asyncio.sleep(min(2.0, duration / 2))
    c0, m0, r0 = time.process_time(), time.perf_counter(), reads[0]
    await asyncio.sleep(max(1.0, duration - 4.0))
    c1, m1, r1 = time.process_time(), time.perf_counter(), reads[0]
    kib = (_rss() - rss0) / 1024
    for t in transports:
        t.close()
    return {"opened": len(transports), "beats": r1 - r0, "cpu_s": c1 - c0, "wall_s": m1 - m0,
            "kib": kib}


# --- the table ----------------------------------------------------------------------------------
def _f(v: object, fmt: str = ".1f") -> str:
    return "-" if v is None else format(v, fmt) if isinstance(v, float) else str(v)


def table(rows: list[dict]) -> str:
    head = ("| N | client | open | failed | dropped | lag p50 ms | lag p99 ms | lag max ms | "
            "client CPU % | heartbeats/s | µs CPU/heartbeat | KiB/stream | CPU pressure % |")
    out = [head, "|" + "---|" * 13]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['n']} | {r['client']} | error: {r['error']} |")
            continue
        out.append(f"| {r['n']} | {r['client']} | {r['opened']} | {r['failed']} | "
                   f"{r['dropped']} | {_f(r['lag_p50'], '.2f')} | {_f(r['lag_p99'], '.2f')} | "
                   f"{_f(r['lag_max'], '.1f')} | {_f(r['cpu_pct'], '.0f')} | "
                   f"{_f(r['beats_per_s'], '.0f')} | {_f(r['us_per_beat'], '.1f')} | "
                   f"{_f(r['kib_per_stream'], '.1f')} | {_f(r.get('cpu_pressure'), '.0f')} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--ramp", type=float, default=1000.0)
    ap.add_argument("--baseline-n", type=int, nargs="+", default=[1000],
                    help="N for the httpx-sse baseline (0: none)")
    ap.add_argument("--workers", type=int, default=0, help="sse-doctor load --workers")
    ap.add_argument("--server-processes", type=int, default=1)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--floor-n", type=int, nargs="+", default=None,
                    help="N for the bare-protocol floor (default: the baseline's; 0: none)")
    ap.add_argument("--baseline-client", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--floor-client", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.floor_client:
        import uvloop

        print(json.dumps(uvloop.run(floor_client(args.floor_client, args.n[0], args.duration,
                                                 args.ramp))))
        return 0
    if args.baseline_client:
        res = asyncio.run(baseline_client(args.baseline_client, args.n[0], args.duration,
                                          args.ramp))
        print(json.dumps(res))
        return 0
    rows = []
    runs = []
    floor_n = args.baseline_n if args.floor_n is None else args.floor_n
    for n in sorted(set(args.n) | {b for b in args.baseline_n if b}):
        if n in args.baseline_n:
            runs.append(("httpx-sse", n))
        if n in floor_n:
            runs.append(("floor", n))
        runs.append(("sse-doctor", n))
    for client, n in runs:
        server = StampServer(args.interval, args.server_processes)
        try:
            run = {"sse-doctor": run_doctor, "httpx-sse": run_baseline,
                   "floor": run_floor}[client]
            print(f"{client} N={n} ...", file=sys.stderr, flush=True)
            rows.append({**run(server.url, n, args), "cpu_pressure": cpu_pressure()})
        finally:
            server.stop()
        print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(rows))
    print()
    for base in rows:
        ours = next((r for r in rows if r["client"] == "sse-doctor" and r["n"] == base["n"]
                     and "error" not in r), None)
        if base["client"] != "httpx-sse" or "error" in base or not ours:
            continue
        if base["us_per_beat"] and ours["us_per_beat"]:
            print(f"sse-doctor / httpx-sse at N={base['n']}: CPU per heartbeat "
                  f"{ours['us_per_beat'] / base['us_per_beat']:.2f}x, memory per stream "
                  f"{(ours['kib_per_stream'] or 0) / max(0.01, base['kib_per_stream']):.2f}x, "
                  f"lag p99 {_f(ours['lag_p99'], '.1f')} vs {_f(base['lag_p99'], '.1f')} ms")
            floor = next((r for r in rows if r["client"].startswith("bare") and "error" not in r
                          and r["n"] == base["n"] and r["us_per_beat"]), None)
            if floor:
                print(f"  the bare-protocol floor at N={base['n']}: {floor['us_per_beat']:.1f} µs "
                      f"= {floor['us_per_beat'] / base['us_per_beat']:.2f}x httpx-sse; "
                      f"sse-doctor's work above it: "
                      f"{ours['us_per_beat'] - floor['us_per_beat']:.1f} µs per heartbeat")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
