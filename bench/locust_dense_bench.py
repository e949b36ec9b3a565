"""Locust with sse-doctor's users: one stream per Locust user (SseUser, a greenlet on a gevent
socket each) against the dense mode (DenseSseUser: one user holding all N streams with the
`sse-doctor load` engine on an event loop in an OS thread), at the same N, in one invocation;
`sse-doctor load --workers 1` at that N too, for reference (the same engine without Locust).

    python bench/locust_dense_bench.py [--n 1000] [--duration 20] [--interval 1] [--json PATH]

Each run is one headless Locust process (no master: the worker's own cost is what is compared)
against a fresh bench/stamp_server.py (`: t=<perf_counter>` every --interval s per stream).
CPU is the Locust process's user+sys time while it only holds streams (from the end of the
ramp plus 2 s to 2 s before the end), per heartbeat received meanwhile, and net of an idle
run's (one dense user of one stream: Locust's own greenlets and statistics); memory is
sse-doctor's own figure from the report (the process's RSS growth per open stream); lag p99 is
the report's heartbeat lag. The ratios dense / one-stream are what to read on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import PY, StampServer, cpu_pressure, run_doctor  # noqa: E402

LOCUSTFILE = """
from sse_doctor.locust import DenseSseUser, SseUser


class OneStream(SseUser):
    path = "/stream"
    hold_s = 3600


class Dense(DenseSseUser):
    path = "/stream"
    hold_s = 3600
    streams_per_user = {n}
    ramp = {ramp}


class Idle(DenseSseUser):  # Locust's own cost, and an engine thread with one stream
    path = "/stream"
    hold_s = 3600
    streams_per_user = 1
"""


def run(kind: str, url: str, args: argparse.Namespace, tmp: Path) -> dict:
    out = tmp / f"{kind}.json"
    users = ["-u", str(args.n), "-r", str(args.ramp)] if kind == "OneStream" else \
        ["-u", "1", "-r", "1"]
    n = 1 if kind == "Idle" else args.n
    proc = subprocess.Popen(
        [PY, "-m", "locust", "-f", str(tmp / "locustfile.py"), kind, "--headless", *users,
         "-t", f"{args.duration}s", "--host", url.rsplit("/", 1)[0], "--only-summary",
         "--sse-doctor-json", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    ps = psutil.Process(proc.pid)
    launched = time.monotonic()
    start = launched + 2.0 + n / args.ramp + 2.0
    end = launched + args.duration - 2.0
    time.sleep(max(0.0, start - time.monotonic()))
    t0 = ps.cpu_times()
    w0 = time.monotonic()
    time.sleep(max(0.5, end - time.monotonic()))
    t1 = ps.cpu_times()
    held_s = time.monotonic() - w0
    proc.wait(120)
    report = json.loads(out.read_text())
    load = report["load"]
    cpu_s = (t1.user + t1.system) - (t0.user + t0.system)
    beats = load["streams"]["peak_open"] * held_s / args.interval
    return {"kind": kind, "opened": load["streams"]["opened"], "cpu_s_per_s": cpu_s / held_s,
            "peak_open": load["streams"]["peak_open"],
            "cpu_percent": round(100 * cpu_s / held_s, 1),
            "us_per_heartbeat": round(1e6 * cpu_s / beats, 1) if beats else None,
            "kib_per_stream": load["generator"]["kib_per_stream"],
            "lag_p99_ms": load["histograms"]["lag_ms"]["p99"], "loop": load["loop"]}


def _load_row(url: str, args: argparse.Namespace) -> dict:
    """The same engine on its own: `sse-doctor load --workers 1` (bench/load_bench.py)."""
    ns = argparse.Namespace(ramp=args.ramp, duration=args.duration, interval=args.interval,
                            workers=1)
    r = run_doctor(url, args.n, ns)
    if "error" in r:
        raise RuntimeError(r["error"])
    return {"kind": "load", "opened": r["opened"], "peak_open": r["opened"],
            "cpu_percent": round(r["cpu_pct"], 1), "us_per_heartbeat": round(r["us_per_beat"], 1),
            "kib_per_stream": r["kib_per_stream"], "lag_p99_ms": r["lag_p99"],
            "loop": f"{r['loop']} (sse-doctor load)"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--ramp", type=float, default=500.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "locustfile.py").write_text(LOCUSTFILE.format(n=args.n, ramp=args.ramp))
        for kind in ("Idle", "OneStream", "Dense", "load"):
            server = StampServer(args.interval, 1)
            try:
                rows.append(run(kind, server.url, args, tmp) if kind != "load"
                            else _load_row(server.url, args))
            finally:
                server.stop()
    idle, one, dense, _ = rows
    for r in (one, dense):  # net of what Locust costs with nothing to hold
        beats = r["peak_open"] / args.interval
        r["net_us_per_heartbeat"] = round(1e6 * (r["cpu_s_per_s"] - idle["cpu_s_per_s"])
                                          / beats, 1) if beats else None
    print(f"N={args.n} streams, {args.duration} s, a heartbeat every {args.interval:g} s; "
          f"CPU pressure {cpu_pressure()}")
    print(f"{'users':<10}{'opened':>8}{'CPU %':>8}{'µs/beat':>9}{'net':>7}{'KiB/stream':>12}"
          f"{'lag p99 ms':>12}  loop")
    for r in rows:
        print(f"{r['kind']:<10}{r['opened']:>8}{r['cpu_percent']:>8}{r['us_per_heartbeat']:>9}"
              f"{r.get('net_us_per_heartbeat', '-'):>7}{r['kib_per_stream'] or '-':>12}"
              f"{r['lag_p99_ms'] or '-':>12}  {r['loop']}")

    def ratio(k: str) -> float | None:
        return round(dense[k] / one[k], 2) if dense[k] and one[k] else None

    ratios = {k: ratio(k) for k in ("us_per_heartbeat", "net_us_per_heartbeat",
                                    "kib_per_stream")}
    print(f"dense / one-stream: CPU per heartbeat x{ratios['us_per_heartbeat']} "
          f"(net of idle Locust x{ratios['net_us_per_heartbeat']}), "
          f"memory per stream x{ratios['kib_per_stream']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "ratios": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
