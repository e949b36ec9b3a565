"""A long soak: `sse-doctor load` holds N streams for an hour; is its memory flat?

    python bench/soak.py [--n 2000] [--duration 3600] [--every 30] [--json PATH]

A stamping server (bench/stamp_server.py, one heartbeat a second per stream) runs in its own
process on 127.0.0.1; `python -m sse_doctor load URL --streams N --duration D --workers 1`
holds the streams. Every --every seconds this script samples the RSS of the load process
tree (psutil) and, at the end, prints the samples and the growth from the first sample after
the ramp to the last one, per stream and per hour, beside the report's own figures (opened,
dropped, lag percentiles of the hold). Run by hand; tests never run it.
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
from load_bench import PY, ROOT, StampServer  # noqa: E402


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--ramp", type=float, default=500.0)
    ap.add_argument("--every", type=float, default=30.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    server = StampServer(1.0, 1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "load.json"
            cmd = [PY, "-m", "sse_doctor", "load", server.url, "--streams", str(args.n),
                   "--ramp", str(args.ramp), "--duration", str(args.duration),
                   "--workers", "1", "--idle-limit", "10", "--json", str(out), "-q",
                   "--fail-on", "never"]
            t0 = time.monotonic()
            popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, cwd=ROOT)
            proc = psutil.Process(popen.pid)
            samples: list[tuple[float, int]] = []
            while popen.poll() is None:
                samples.append((time.monotonic() - t0, tree_rss(proc)))
                print(f"{samples[-1][0]:8.0f} s  rss {samples[-1][1] / 2**20:8.1f} MiB",
                      flush=True)
                try:
                    popen.wait(args.every)
                except subprocess.TimeoutExpired:
                    pass
            err = popen.stderr.read() if popen.stderr else ""
            if not out.exists():
                print("the load run wrote no report:", err.strip()[-300:], file=sys.stderr)
                return 1
            report = json.loads(out.read_text())
    finally:
        server.stop()

    load = report["load"]
    hold = next(p for p in load["phases"] if p["name"] == "hold")
    settled = [s for s in samples if s[0] >= 2.0 + args.n / args.ramp + 30.0 and s[1] > 0]
    first, last = (settled[0], settled[-1]) if settled else (None, None)
    growth = (last[1] - first[1]) if settled else None
    hours = (last[0] - first[0]) / 3600 if settled and last[0] > first[0] else None
    summary = {
        "n": args.n, "duration_s": args.duration, "opened": load["streams"]["peak_open"],
        "failed": load["streams"]["failed"], "dropped": load["streams"]["dropped"],
        "lag_ms": hold["lag_ms"], "kib_per_stream": load["generator"]["kib_per_stream"],
        "rss_first_mib": first[1] / 2**20 if first else None,
        "rss_last_mib": last[1] / 2**20 if last else None,
        "rss_max_mib": max(s[1] for s in settled) / 2**20 if settled else None,
        "growth_bytes_per_stream_per_hour": (growth / args.n / hours) if hours else None,
        "findings": [f["code"] for f in report["findings"]],
        "samples": [{"t_s": round(t, 1), "rss": r} for t, r in samples],
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
