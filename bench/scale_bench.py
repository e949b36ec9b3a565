"""Scale: N concurrent lab streams in one client process, recorded by sse-doctor's own path
(observe_sse on one shared client), against a plain httpx + httpx-sse client in the same
invocation.

    python bench/scale_bench.py [--n 100 1000 5000] [--window 10] [--interval 1] [--json PATH|-]

For each N and each client, a fresh lab (`python -m sse_doctor lab`) runs in its own
process and a fresh client process opens N streams to /sse/clock at once, waits until all
are open, holds them for --window seconds and stops them. The lab writes `: t=<send time>`
comments every --interval seconds, each stream at a random phase (?spread=1); the send time
is time.perf_counter() in the lab, which on Linux is CLOCK_MONOTONIC, one clock for every
process on the machine (checked at start-up), so the client subtracts it from the arrival
time it recorded. Reported per client:

  open      seconds from the first request to the last response head
  failed    streams that never opened, or that ended before the client stopped them
  KiB/str   client RSS growth per stream (end of the window vs before the first request)
  lag       heartbeat arrival - send, over heartbeats sent after every stream was open
  trend     lag p50 in the window's last second minus its first (growth = falling behind)
  late      how far the lab's sends slipped behind their schedule (lab saturation)
  loop      client event-loop lag (a 20 ms sleep's overshoot) during the window
  CPU       client and lab CPU during the window, % of one core; client CPU per heartbeat;
            "others": the rest of the machine, which inflates lags on a shared machine
  full GC   the longest full garbage collection in the window (it stops the event loop)

--per-client K and --gc-freeze try the fixes discussed in the README (streams spread over
httpx clients of K connections; gc.freeze() once all streams are open).

httpx-sse's aiter_sse drops comments, so the baseline connects with httpx-sse's
aconnect_sse and reads `response.aiter_lines()`, stamping each `: t=` line itself.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psutil  # noqa: E402
from httpx_sse import aconnect_sse  # noqa: E402

from sse_doctor.model import ProbeOptions  # noqa: E402
from sse_doctor.report.json_report import percentile  # noqa: E402
from sse_doctor.sse.observe import observe_sse  # noqa: E402
from sse_doctor.sse.transport import make_client  # noqa: E402
from sse_doctor.target import build_target  # noqa: E402

CLIENT_KINDS = ("httpx-sse", "sse-doctor")
BASELINE = "httpx-sse"
LOOP_PROBE_S = 0.02
CLOCK_PATH = "/sse/clock"


# --------------------------------------------------------------------------------------------
# Start-up checks


def shared_clock_problem() -> str | None:
    """Why a perf_counter value read in the lab process cannot be compared with one read
    here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return (f"perf_counter is only known to be one clock across processes on Linux "
                f"(CLOCK_MONOTONIC); this is {sys.platform}")
    impl = time.get_clock_info("perf_counter").implementation
    if "(CLOCK_MONOTONIC)" not in impl:
        return f"perf_counter here is {impl}, not clock_gettime(CLOCK_MONOTONIC)"
    # The lab runs on this interpreter: a reading taken in a child must fall between ours.
    before = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", "import time; print(time.perf_counter())"],
                             capture_output=True, text=True, timeout=30, check=True)
        child = float(out.stdout)
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        return f"could not read perf_counter in a child process: {exc}"
    after = time.perf_counter()
    if not before <= child <= after:
        return (f"a child process's perf_counter ({child:.6f}) is outside this process's "
                f"[{before:.6f}, {after:.6f}]: the clocks are not shared")
    return None


def raise_nofile() -> int:
    """Raise the open-file soft limit to the hard limit (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


# --------------------------------------------------------------------------------------------
# Measuring one client kind at one N (in the calling process)


@dataclass
class StreamLog:
    """One stream's record: (arrival, send) perf_counter pairs of its clock comments, in order."""

    beats: list[tuple[float, float]] = field(default_factory=list)
    failure: str | None = None
    opened: bool = False


_current: ContextVar[StreamLog] = ContextVar("scale_bench_stream")


class OpenCounter:
    """Counts streams that opened or gave up; sets `settled` when all N have done either."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.opened = 0
        self.gave_up = 0
        self.t_last_open = 0.0
        self.settled = asyncio.Event()

    def open(self) -> None:
        self.opened += 1
        self.t_last_open = time.perf_counter()
        self._check()

    def give_up(self) -> None:
        self.gave_up += 1
        self._check()

    def _check(self) -> None:
        if self.opened + self.gave_up >= self.n:
            self.settled.set()


def _clock_value(text: str) -> float | None:
    text = text.strip()
    if not text.startswith("t="):
        return None
    try:
        return float(text[2:])
    except ValueError:
        return None


Started = tuple[list[StreamLog], list[asyncio.Task], list[httpx.AsyncClient]]


def _shares(n: int, per_client: int) -> list[int]:
    """How many of the n streams each client carries."""
    return [min(per_client, n - i) for i in range(0, n, per_client)]


async def _doctor_streams(url: str, n: int, per_client: int, open_timeout: float,
                          counter: OpenCounter, stop: asyncio.Event) -> Started:
    target = build_target(url, protocols=("sse",), timeout=open_timeout)
    # The window is ended by `stop`; the duration is only a backstop.
    opts = ProbeOptions(duration=open_timeout + 3600.0, idle_limit=3600.0)

    async def on_response(response: httpx.Response) -> None:
        # Runs in the stream's task or in a task it spawned (wait_for), which copies its
        # context: _current is that stream's log.
        if response.status_code == 200:
            _current.get().opened = True
            counter.open()

    clients = []
    for share in _shares(n, per_client):
        client = make_client(target, max_connections=share)
        client.event_hooks = {"request": [], "response": [on_response]}
        clients.append(client)
    logs = [StreamLog() for _ in range(n)]

    async def one(log: StreamLog, client: httpx.AsyncClient) -> None:
        _current.set(log)
        obs = await observe_sse(target, opts, client=client, stop=stop)
        if obs.unreachable:
            log.failure = obs.unreachable
        elif obs.status != 200:
            log.failure = f"HTTP {obs.status}"
        elif obs.close is None or obs.close.by != "client":
            log.failure = f"ended by {obs.close.by if obs.close else '?'} before the stop"
        for c in obs.comments:
            sent = _clock_value(c.text)
            if sent is not None:
                # obs.t0 is the perf_counter every t_ms counts from: the arrival exactly (a
                # time read before the call could be a GIL switch early, the lab being a
                # thread of this process, and make a prompt heartbeat's lag negative)
                log.beats.append((obs.t0 + c.t_ms / 1000, sent))

    tasks = [asyncio.create_task(one(log, clients[i // per_client]))
             for i, log in enumerate(logs)]
    return logs, tasks, clients


async def _baseline_streams(url: str, n: int, per_client: int, open_timeout: float,
                            counter: OpenCounter, stop: asyncio.Event) -> Started:
    clients = [
        httpx.AsyncClient(timeout=httpx.Timeout(open_timeout, read=None),
                          limits=httpx.Limits(max_connections=share,
                                              max_keepalive_connections=0))
        for share in _shares(n, per_client)
    ]
    logs = [StreamLog() for _ in range(n)]

    async def read(log: StreamLog, client: httpx.AsyncClient) -> None:
        perf = time.perf_counter
        async with aconnect_sse(client, "GET", url) as source:
            response = source.response
            if response.status_code != 200:
                log.failure = f"HTTP {response.status_code}"
                return
            log.opened = True
            counter.open()
            async for line in response.aiter_lines():
                if line.startswith(": t="):
                    log.beats.append((perf(), float(line[4:])))
        log.failure = "ended by server before the stop"

    async def one(log: StreamLog, client: httpx.AsyncClient) -> None:
        reader = asyncio.ensure_future(read(log, client))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (reader, stopper):
                fut.cancel()
            await asyncio.gather(reader, stopper, return_exceptions=True)
        if not reader.cancelled() and reader.exception() is not None:
            exc = reader.exception()
            log.failure = f"{type(exc).__name__}: {exc}"

    tasks = [asyncio.create_task(one(log, clients[i // per_client]))
             for i, log in enumerate(logs)]
    return logs, tasks, clients


async def _loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    perf = time.perf_counter
    while not stop.is_set():
        t = perf()
        await asyncio.sleep(LOOP_PROBE_S)
        samples.append(perf() - t - LOOP_PROBE_S)


class GcPauses:
    """Times the interpreter's garbage collections (a full one stops the whole event loop)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, float]] = []  # (generation, wall s, CPU s)
        self._t = self._c = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t, self._c = time.perf_counter(), time.process_time()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t,
                                time.process_time() - self._c))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _busy_s() -> float:
    """Busy CPU seconds of the whole machine (all cores) so far."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def _ms(values: list[float], q: float) -> float | None:
    v = percentile(values, q)
    return None if v is None else round(v * 1000, 2)


def _cpu_s(proc: psutil.Process | None) -> float | None:
    if proc is None:
        return None
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return None
    return t.user + t.system


@dataclass(frozen=True)
class Setup:
    interval: float = 1.0  # seconds between the lab's clock comments
    # Longest wait for one stream's response head: opening 5,000 on one httpx client costs
    # about 45 s of client CPU (see the README), more on a busy machine.
    open_timeout: float = 120.0
    server_pid: int | None = None  # the lab's pid, for its CPU use
    per_client: int | None = None  # streams per httpx client (None: one client for all)
    gc_freeze: bool = False  # gc.freeze() once all are open: full collections skip them
    # Heartbeats at a random phase per stream, so their lag does not depend on how fast
    # the client opened the streams (a fast ramp would send them in bursts).
    spread: bool = True


async def _measure(base_url: str, n: int, window_s: float, client_kind: str,
                   setup: Setup) -> dict:
    interval, open_timeout = setup.interval, setup.open_timeout
    per_client = setup.per_client or n
    url = f"{base_url.rstrip('/')}{CLOCK_PATH}?interval={interval:g}"
    if setup.spread:
        url += "&spread=1"
    me = psutil.Process()
    server = psutil.Process(setup.server_pid) if setup.server_pid else None
    stop = asyncio.Event()
    counter = OpenCounter(n)
    start = _doctor_streams if client_kind == "sse-doctor" else _baseline_streams

    gc.collect()
    rss_before = me.memory_info().rss
    cpu_start = time.process_time()
    t_start = time.perf_counter()
    logs, tasks, clients = await start(url, n, per_client, open_timeout, counter, stop)
    for log, task in zip(logs, tasks):
        task.add_done_callback(lambda _t, log=log: None if log.opened else counter.give_up())
    try:
        await asyncio.wait_for(counter.settled.wait(), open_timeout + 5.0)
    except asyncio.TimeoutError:
        pass  # the streams still pending count as failed below
    t_open = time.perf_counter()
    open_s = (counter.t_last_open or t_open) - t_start
    if setup.gc_freeze:
        gc.freeze()

    # The window: every stream is open (or has given up) and receiving.
    lag_samples: list[float] = []
    loop_stop = asyncio.Event()
    loop_task = asyncio.create_task(_loop_lag(lag_samples, loop_stop))
    cpu_w0, srv_w0, machine0 = time.process_time(), _cpu_s(server), _busy_s()
    switches0 = me.num_ctx_switches().involuntary
    t_w0 = time.perf_counter()
    with GcPauses() as gc_pauses:
        await asyncio.sleep(window_s)
    t_w1 = time.perf_counter()
    cpu_w1, srv_w1, machine1 = time.process_time(), _cpu_s(server), _busy_s()
    switches = me.num_ctx_switches().involuntary - switches0
    srv_s = srv_w1 - srv_w0 if srv_w0 is not None and srv_w1 is not None else None
    rss_after = me.memory_info().rss
    loop_stop.set()
    await loop_task

    stop.set()
    done, pending = await asyncio.wait(tasks, timeout=60.0)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in clients:
        try:
            await asyncio.wait_for(client.aclose(), 30.0)
        except (asyncio.TimeoutError, httpx.HTTPError, OSError):
            pass
    if setup.gc_freeze:
        gc.unfreeze()
    close_s = time.perf_counter() - t_w1
    cpu_end = time.process_time()

    failures: Counter[str] = Counter()
    for log, task in zip(logs, tasks):
        if task in pending:
            log.failure = log.failure or "did not stop within 60 s"
        elif task.exception() is not None and log.failure is None:
            exc = task.exception()
            log.failure = f"{type(exc).__name__}: {exc}"
        if log.failure is None and not log.beats:
            log.failure = "no heartbeat at all"
        if log.failure:
            failures[log.failure[:120]] += 1

    lags: list[float] = []
    late: list[float] = []
    per_second: list[list[float]] = [[] for _ in range(max(1, math.ceil(window_s)))]
    with_lags = 0
    negative = 0
    for log in logs:
        if not log.beats:
            continue
        # The lab sends comment k >= 1 at grid + (k - 1) * interval, never before; the
        # earliest send minus its offset is the best estimate of the grid. (A slip shared
        # by every send of a stream is invisible this way.)
        grid = min((sent - (k - 1) * interval for k, (_, sent) in enumerate(log.beats)
                    if k >= 1), default=0.0)
        counted = False
        for k, (arrived, sent) in enumerate(log.beats):
            # Only heartbeats sent once every stream was open: the ramp's own queueing
            # is reported as the open time, not as lag.
            if sent < t_open or sent > t_w1:
                continue
            lag = arrived - sent
            if lag < -0.0005:
                negative += 1
            lags.append(lag)
            if k >= 1:
                late.append(sent - (grid + (k - 1) * interval))
            per_second[min(len(per_second) - 1, int(sent - t_w0))].append(lag)
            counted = True
        with_lags += counted

    window = t_w1 - t_w0
    by_second = [_ms(s, 0.5) for s in per_second]
    seen = [v for v in by_second if v is not None]
    return {
        "client": client_kind,
        "n": n,
        "streams_per_client": per_client,
        "gc_freeze": setup.gc_freeze,
        "interval_s": interval,
        "window_s": round(window, 3),
        "open_s": round(open_s, 3),
        "opened": counter.opened,
        "failed": sum(failures.values()),
        "failures": dict(failures.most_common(5)),
        "streams_with_lags": with_lags,
        "heartbeats": len(lags),
        "negative_lags": negative,
        "lag_ms": {"p50": _ms(lags, 0.5), "p99": _ms(lags, 0.99),
                   "max": round(max(lags) * 1000, 2) if lags else None},
        "lag_p50_ms_by_second": by_second,
        "lag_trend_ms": round(seen[-1] - seen[0], 2) if len(seen) >= 2 else None,
        "server_late_ms": {"p50": _ms(late, 0.5), "p99": _ms(late, 0.99),
                           "max": round(max(late) * 1000, 2) if late else None},
        "client_loop_lag_ms": {"p50": _ms(lag_samples, 0.5), "p99": _ms(lag_samples, 0.99),
                               "max": round(max(lag_samples) * 1000, 2)
                               if lag_samples else None},
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_after_mib": round(rss_after / 2**20, 1),
        "rss_per_stream_kib": round((rss_after - rss_before) / 1024 / n, 2),
        "client_cpu_pct": round(100 * (cpu_w1 - cpu_w0) / window, 1),
        # CPU per heartbeat: the cost that sets how many heartbeats/s one core can record.
        "client_cpu_us_per_beat": round(1e6 * (cpu_w1 - cpu_w0) / len(lags), 1)
        if lags else None,
        "server_cpu_us_per_beat": round(1e6 * srv_s / len(lags), 1)
        if lags and srv_s is not None else None,
        "client_cpu_ramp_s": round(cpu_w0 - cpu_start, 2),
        "client_cpu_close_s": round(cpu_end - cpu_w1, 2),
        "server_cpu_pct": None if srv_s is None else round(100 * srv_s / window, 1),
        # Everything else on the machine in the window, % of one core: noise to read
        # the lags against on a shared machine.
        "others_cpu_pct": round(100 * ((machine1 - machine0) - (cpu_w1 - cpu_w0)
                                       - (srv_s or 0.0)) / window, 1),
        "client_preempted": switches,
        "gc_full_collections": sum(1 for g, _, _ in gc_pauses.pauses if g == 2),
        "gc_max_pause_ms": round(max((p for _, p, _ in gc_pauses.pauses), default=0) * 1000, 2),
        # The same pause in CPU time: unlike wall time, not inflated by other processes.
        "gc_max_pause_cpu_ms": round(max((c for _, _, c in gc_pauses.pauses), default=0)
                                     * 1000, 2),
        "close_s": round(close_s, 3),
    }


def measure(base_url: str, n: int, window_s: float, client_kind: str,
            setup: Setup | None = None) -> dict:
    """Open `n` concurrent /sse/clock streams on the lab at `base_url` with `client_kind`
    ("sse-doctor" or "httpx-sse"), hold them `window_s` seconds once all are open, stop them,
    and return the figures (see the module docstring). The lab must share this process's
    perf_counter clock (same machine, Linux)."""
    setup = setup or Setup()
    if client_kind not in CLIENT_KINDS:
        raise ValueError(f"client_kind must be one of {CLIENT_KINDS}, not {client_kind!r}")
    if n < 1 or window_s <= 0 or setup.interval <= 0 or (setup.per_client or 1) < 1:
        raise ValueError("n, window_s, interval and per_client must be positive")
    raise_nofile()
    return asyncio.run(_measure(base_url, n, window_s, client_kind, setup))


# --------------------------------------------------------------------------------------------
# The invocation: a lab process and a client process per measurement


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_process() -> Iterator[tuple[str, int]]:
    """`python -m sse_doctor lab` on a free port; yields (base_url, pid) once it answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # stderr to a file, not a pipe: a full pipe would block the lab mid-measurement.
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", "lab", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    err.seek(0)
                    raise SystemExit(f"the lab exited with {proc.returncode}: "
                                     f"{err.read()[-500:].strip()}")
                try:
                    if httpx.get(base + "/", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"the lab did not answer on {base} within 30 s")
                time.sleep(0.1)
            yield base, proc.pid
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # the lab's Ctrl-C path: streams end cleanly
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def run_worker(base_url: str, n: int, kind: str, args: argparse.Namespace,
               server_pid: int) -> dict:
    """One measurement in a fresh client process, so RSS and CPU are that client's alone."""
    cmd = [sys.executable, __file__, "--worker", base_url, "--kind", kind, "--n", str(n),
           "--window", str(args.window), "--interval", str(args.interval),
           "--open-timeout", str(args.open_timeout), "--server-pid", str(server_pid)]
    if args.per_client:
        cmd += ["--per-client", str(args.per_client)]
    if args.gc_freeze:
        cmd.append("--gc-freeze")
    if args.no_spread:
        cmd.append("--no-spread")
    budget = args.open_timeout + args.window + 180
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} at N={n} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout)


def _f(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def _ratio(ours: float | None, base: float | None) -> str:
    if ours is None or base is None or base <= 0:
        return "-"
    return f"{ours / base:.2f}x"


COLUMNS = ("N", "client", "open s", "failed", "KiB/stream", "lag p50 ms", "lag p99 ms",
           "lag max ms", "lag trend ms", "lab late p99 ms", "loop lag p99 ms", "full GC ms",
           "client CPU %", "client µs/beat", "lab CPU %", "others CPU %")


def table(results: list[dict]) -> str:
    """A Markdown table, one row per (N, client)."""
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        gc_ms = r["gc_max_pause_ms"] if r["gc_full_collections"] else None
        cells = [
            str(r["n"]), r["client"], _f(r["open_s"], ".2f"), str(r["failed"]),
            _f(r["rss_per_stream_kib"]), _f(r["lag_ms"]["p50"], ".2f"), _f(r["lag_ms"]["p99"]),
            _f(r["lag_ms"]["max"]), _f(r["lag_trend_ms"]), _f(r["server_late_ms"]["p99"]),
            _f(r["client_loop_lag_ms"]["p99"]), _f(gc_ms, ".0f"), _f(r["client_cpu_pct"], ".0f"),
            _f(r["client_cpu_us_per_beat"], ".0f"), _f(r["server_cpu_pct"], ".0f"),
            _f(r["others_cpu_pct"], ".0f"),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def ratios(results: list[dict]) -> str:
    by = {(r["n"], r["client"]): r for r in results}
    lines = ["sse-doctor / httpx-sse baseline (below 1 = sse-doctor uses less):"]
    for n in sorted({r["n"] for r in results}):
        ours, base = by.get((n, "sse-doctor")), by.get((n, BASELINE))
        if not ours or not base:
            continue
        mem = _ratio(ours["rss_per_stream_kib"], base["rss_per_stream_kib"])
        lines.append(
            f"  N={n}: memory/stream {mem}"
            f", lag p50 {_ratio(ours['lag_ms']['p50'], base['lag_ms']['p50'])}"
            f", lag p99 {_ratio(ours['lag_ms']['p99'], base['lag_ms']['p99'])}"
            f", client CPU/heartbeat "
            f"{_ratio(ours['client_cpu_us_per_beat'], base['client_cpu_us_per_beat'])}"
            f", open time {_ratio(ours['open_s'], base['open_s'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000, 5000],
                    help="stream counts (default 100 1000 5000)")
    ap.add_argument("--window", type=float, default=10.0,
                    help="seconds to hold the streams once all are open (default 10)")
    ap.add_argument("--interval", type=float, default=1.0,
                    help="seconds between the lab's clock comments (default 1)")
    ap.add_argument("--open-timeout", type=float, default=Setup.open_timeout,
                    help="longest wait for one stream's response head (default 120)")
    ap.add_argument("--clients", nargs="+", choices=CLIENT_KINDS, default=list(CLIENT_KINDS))
    ap.add_argument("--per-client", type=int, metavar="K",
                    help="streams per httpx client (default: one client for all N)")
    ap.add_argument("--no-spread", action="store_true",
                    help="heartbeats of streams opened together go out together (lab default)")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() once all streams are open (full collections skip them)")
    ap.add_argument("--json", metavar="PATH|-", help="write the results as JSON ('-' = stdout)")
    ap.add_argument("--worker", metavar="BASE_URL", help=argparse.SUPPRESS)
    ap.add_argument("--kind", choices=CLIENT_KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if any(n < 1 for n in args.n) or args.window <= 0 or not 0.001 <= args.interval <= 60 \
            or (args.per_client is not None and args.per_client < 1):
        print("scale_bench: --n and --per-client must be >= 1, --window > 0, "
              "--interval 0.001..60", file=sys.stderr)
        return 2

    if args.worker:
        setup = Setup(interval=args.interval, open_timeout=args.open_timeout,
                      server_pid=args.server_pid, per_client=args.per_client,
                      gc_freeze=args.gc_freeze, spread=not args.no_spread)
        result = measure(args.worker, args.n[0], args.window, args.kind, setup)
        print(json.dumps(result))
        return 0

    problem = shared_clock_problem()
    if problem:
        print(f"scale_bench: cannot measure heartbeat lag: {problem}", file=sys.stderr)
        return 2
    nofile = raise_nofile()
    if max(args.n) + 100 > nofile:
        print(f"scale_bench: N={max(args.n)} needs more open files than the limit ({nofile})",
              file=sys.stderr)
        return 2
    to_stdout = args.json == "-"
    log = sys.stderr if to_stdout else sys.stdout
    if args.json and not to_stdout:
        try:  # fail now, not after minutes of measuring
            Path(args.json).touch()
        except OSError as exc:
            print(f"scale_bench: cannot write --json {args.json}: {exc.strerror}",
                  file=sys.stderr)
            return 2

    results: list[dict] = []
    for n in args.n:
        for kind in args.clients:
            with lab_process() as (base, pid):
                print(f"N={n} {kind}: opening...", file=log, flush=True)
                results.append(run_worker(base, n, kind, args, pid))

    meta = {
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()], "nofile": nofile,
        "window_s": args.window, "interval_s": args.interval,
        "baseline": "httpx + httpx-sse aconnect_sse, lines read with response.aiter_lines() "
                    "(aiter_sse drops comments) and stamped with perf_counter per line",
    }
    if args.json:
        text = json.dumps({"meta": meta, "results": results}, indent=2)
        if to_stdout:
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if not to_stdout:
        print()
        print(table(results))
        print()
        print(ratios(results))
        print(f"\nbaseline: {meta['baseline']}.")
        print(f"{meta['cpus']} CPUs, load average at the end {meta['loadavg_end']}, "
              f"open-file limit {nofile}; window {args.window:g} s, heartbeat every "
              f"{args.interval:g} s.")
    return 0


def _main() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        # The lab was stopped on the way out (lab_process); a worker dies with its parent.
        print("scale_bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(_main())
