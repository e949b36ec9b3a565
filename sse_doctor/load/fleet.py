"""The parent of the load workers: it splits the streams between worker processes, checks the
open-files limit, gathers their per-second samples (for the live view and the series) and
their final counts, and merges them into one LoadObservation. Ctrl-C (or a deadline) asks the
workers to stop; they hand back what they counted."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.load.driver import WorkerConfig, raise_open_files_limit, worker_main
from sse_doctor.load.histogram import Histogram
from sse_doctor.load.observation import LoadObservation, LoadSettings
from sse_doctor.load.recorder import BANDS, HISTOGRAMS, PHASES
from sse_doctor.load.streams import LoadTarget

FD_MARGIN = 64  # descriptors a worker needs besides its streams (pipes, the loop, libraries)
STOP_GRACE_S = 8.0  # how long workers may take to close and report after being asked to stop


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def preflight(target: LoadTarget) -> str | None:
    """One plain TCP connect before any worker starts: the reason when the target cannot be
    reached at all (DNS, nothing listening, no route), so that a typo is one clear line and
    exit 3 rather than N refusals."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot resolve {target.host}: {getattr(exc, 'strerror', None) or exc}"
    try:
        with socket.create_connection(infos[0][4][:2], timeout=target.timeout):
            return None
    except TimeoutError:
        return f"no TCP connection within {target.timeout:g} s"
    except OSError as exc:
        return f"cannot connect: {exc.strerror or exc}"


def plan_workers(streams: int, workers: int) -> tuple[int, int]:
    """(workers, open-files limit) after raising it; UsageError when the streams cannot fit."""
    workers = max(1, min(workers, streams))
    soft, hard = raise_open_files_limit()
    share = math.ceil(streams / workers)
    if share + FD_MARGIN > soft:
        need = math.ceil(streams / max(1, soft - FD_MARGIN))
        raise UsageError(
            f"--streams {streams} over {workers} worker(s) needs {share + FD_MARGIN} open files "
            f"per process but the limit is {soft} (hard limit {hard}): use --workers {need} or "
            f"more, or raise the limit (ulimit -n)")
    return workers, soft


class SampleMerge:
    """Per-second samples of every worker (or other generator: a Locust process, one of its
    dense users), merged by second. ``add(index, sample)``: ``index`` tells generators apart.

    A second's raw samples (each with its lag histogram, a few KiB) are kept only while a
    generator may still report it; then the second is sealed into its series row (a few
    numbers). Keeping every raw sample grew the parent by ~6 KiB a second: 20 MiB an hour.
    A second is sealed once every generator has reported a later one (Locust workers report
    in batches, seconds late), or SEAL_AFTER_S after the newest (a generator that died)."""

    SEAL_AFTER_S = 60

    def __init__(self, workers: int) -> None:
        self.by_sec: dict[int, dict[int, dict[str, Any]]] = {}  # open seconds
        self.rows: dict[int, dict[str, Any]] = {}  # sealed seconds: their rows
        self.last: dict[int, dict[str, Any]] = {}  # each generator's counts up to the sealed
        self.newest: dict[int, int] = {}  # each generator's newest second
        self.workers = workers

    def add(self, index: int, sample: dict[str, Any]) -> None:
        sec = max(0, round(sample["t_s"]))
        self.newest[index] = max(sec, self.newest.get(index, sec))
        row = self.rows.get(sec)
        if row is not None:  # its second is sealed: its events count, its lags come too late
            row["events_per_s"] += sample["items"]
            row["cpu"] = max(row["cpu"], sample["cpu"])
            prev = self.last.get(index)
            if prev is None or prev["t_s"] <= sample["t_s"]:
                self.last[index] = sample
            return
        slot = self.by_sec.setdefault(sec, {})
        if index in slot:  # a final sample in the same second: add its items and lags
            prev = slot[index]
            lag = Histogram.from_wire(prev["lag"])
            lag.merge(Histogram.from_wire(sample["lag"]))
            sample = {**sample, "items": sample["items"] + prev["items"], "lag": lag.to_wire()}
        slot[index] = sample
        self._seal()

    def _seal(self) -> None:
        newest = self.newest.values()
        upto = max(newest) - self.SEAL_AFTER_S
        if len(self.newest) >= self.workers:
            upto = max(upto, min(newest))
        for old in sorted(s for s in self.by_sec if s < upto):
            slot = self.by_sec.pop(old)
            self.last.update(slot)
            self.rows[old] = self._row(old, slot, self.last)

    @staticmethod
    def _row(sec: int, slot: dict[int, dict[str, Any]],
             last: dict[int, dict[str, Any]]) -> dict[str, Any]:
        lag = Histogram()
        for s in slot.values():
            lag.merge(Histogram.from_wire(s["lag"]))
        p99, p50 = lag.percentile(0.99), lag.percentile(0.5)
        return {"t_s": sec,
                "open": sum(s["open"] for s in last.values()),
                "opening": sum(s["opening"] for s in last.values()),
                "failed": sum(s["failed"] for s in last.values()),
                "events_per_s": sum(s["items"] for s in slot.values()),
                "lag_p99_ms": None if p99 is None else round(p99, 2),
                "lag_p50_ms": None if p50 is None else round(p50, 2),
                "cpu": max(s["cpu"] for s in slot.values())}

    def series(self) -> list[dict[str, Any]]:
        out = [dict(self.rows[sec]) for sec in sorted(self.rows)]
        last = dict(self.last)  # each worker's latest counts carry forward
        for sec in sorted(self.by_sec):
            slot = self.by_sec[sec]
            last.update(slot)
            out.append(self._row(sec, slot, last))
        return out

    def latest(self) -> dict[str, Any]:
        """The newest second only (the live view: recomputing the series every second would
        grow with the run)."""
        if not self.by_sec:
            return {}
        sec = max(self.by_sec)
        last = dict(self.last)
        for s in sorted(self.by_sec):  # a worker a little behind still counts
            last.update(self.by_sec[s])
        return self._row(sec, self.by_sec[sec], last)


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def run_fleet(target: LoadTarget, settings: LoadSettings,
              view: Any = None, stop: threading.Event | None = None) -> LoadObservation:
    """Run the workers to the end (or until Ctrl-C or `stop` is set: KeyboardInterrupt is
    caught here and the workers' counts are still gathered) and merge what they counted.
    ``view``: a context manager with ``update(row)`` (the live view), entered once the
    workers are forked, so no thread of it is copied into them. ``stop``: set from another
    thread (a plan run from an event loop) to end the run as Ctrl-C does."""
    with contextlib.ExitStack() as stack:
        return _run(target, settings, view, stack, stop)


def _run(target: LoadTarget, settings: LoadSettings, view: Any,
         stack: contextlib.ExitStack, stop: threading.Event | None = None) -> LoadObservation:
    workers, _ = plan_workers(settings.streams, settings.workers)
    t0 = time.perf_counter() + 0.3  # workers start their ramps from here
    procs, conns = _start_workers(target, settings, workers, t0)
    on_second: Callable[[dict[str, Any]], None] | None = None
    if view is not None:
        try:
            on_second = stack.enter_context(view).update
        except KeyboardInterrupt:
            pass  # the loop below still asks the workers to stop and gathers their counts
    merge = SampleMerge(workers)
    finals: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    open_conns = {c: i for i, c in enumerate(conns)}
    # The run ends by itself after ramp + hold; past that (plus the timeouts), stop it.
    deadline = t0 + settings.ramp_s + settings.duration + 2 * target.timeout + 10
    stop_sent_at: float | None = None
    interrupted = False

    def ask_stop() -> None:
        nonlocal stop_sent_at
        if stop_sent_at is None:
            stop_sent_at = time.monotonic()
            for c in open_conns:
                try:
                    c.send("stop")
                except (BrokenPipeError, OSError):
                    pass

    while open_conns:
        try:
            ready = wait(list(open_conns), timeout=0.5)
            for c in ready:
                index = open_conns[c]
                try:
                    kind, _, payload = c.recv()
                except (EOFError, OSError):
                    del open_conns[c]
                    if index not in finals:
                        errors.append(f"worker {index} ended without reporting")
                    continue
                if kind == "sample":
                    merge.add(index, payload)
                    if on_second is not None and merge.by_sec:
                        on_second(_live(merge, settings))
                elif kind == "final":
                    finals[index] = payload
                    del open_conns[c]
                else:
                    errors.append(f"worker {index}: {payload}")
                    del open_conns[c]
            if time.perf_counter() > deadline:
                ask_stop()
            if stop is not None and stop.is_set() and stop_sent_at is None:
                interrupted = True
                ask_stop()
            if stop_sent_at is not None and time.monotonic() - stop_sent_at > STOP_GRACE_S:
                for c, index in list(open_conns.items()):
                    errors.append(f"worker {index} did not report within {STOP_GRACE_S:.0f} s")
                    del open_conns[c]
        except KeyboardInterrupt:
            interrupted = True
            ask_stop()
    _reap(procs, conns)
    return merge_finals(target, settings, workers, merge, finals, errors,
                         interrupted or any(f["interrupted"] for f in finals.values()),
                         time.perf_counter() - t0)


def _start_workers(target: LoadTarget, settings: LoadSettings, workers: int,
                   t0: float) -> tuple[list[Any], list[Any]]:
    """One worker process per share of the streams, each with its end of a pipe."""
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    inflight = settings.max_inflight or max(64, min(2000, int(settings.ramp * target.timeout)))
    procs, conns = [], []
    for i, share in enumerate(_split(settings.streams, workers)):
        cfg = WorkerConfig(
            index=i, workers=workers, target=target, share=share,
            ramp=settings.ramp * share / settings.streams, hold_s=settings.duration, t0=t0,
            start_s=i / settings.ramp, reconnect=settings.reconnect, lag=settings.lag,
            max_inflight=max(1, inflight // workers), insecure=settings.insecure,
            cacert=settings.cacert, loop=settings.loop)
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(cfg, child_end), daemon=True,
                           name=f"sse-doctor-load-{i}")
        proc.start()
        child_end.close()
        procs.append(proc)
        conns.append(parent_end)
    return procs, conns


def _reap(procs: list[Any], conns: list[Any]) -> None:
    """Every worker joined (terminated, by its own handle, when it does not end in time)."""
    for proc in procs:
        proc.join(2.0)
        if proc.is_alive():
            proc.terminate()  # our own child, by its handle
            proc.join(1.0)
    for c in conns:
        c.close()


def _live(merge: SampleMerge, settings: LoadSettings) -> dict[str, Any]:
    return {**merge.latest(), "requested": settings.streams}


def merge_finals(target: LoadTarget, settings: LoadSettings, workers: int, merge: SampleMerge,
                 finals: dict[int, dict[str, Any]], errors: list[str], interrupted: bool,
                 elapsed: float) -> LoadObservation:
    """One LoadObservation from the generators' final counts (``finals``: index -> what
    driver.Worker.run returns) and their merged samples. ``workers``: how many generators
    the counts came from (the stream count at the first refusal is scaled by it)."""
    counts: dict[str, int] = {}
    refusals: dict[str, int] = {}
    drops: dict[str, int] = {}
    local: dict[str, int] = {}
    diagnostics: dict[str, int] = {}
    hist = {k: Histogram() for k in HISTOGRAMS}
    phase_hist = {p: {"lag_ms": Histogram(), "first_event_ms": Histogram()} for p in PHASES}
    phase_counts = {p: {"opened": 0, "failed": 0, "dropped": 0} for p in PHASES}
    lag_bands = [Histogram() for _ in range(BANDS)]
    fe_bands = [Histogram() for _ in range(BANDS)]
    first_refusal: tuple[float, int] | None = None
    first_drop = last_drop = None
    rss = 0
    cpus: list[float] = []
    cpu_max = 0.0
    loops = set()
    ramp_end = 0.0
    for f in finals.values():
        rec = f["rec"]
        for k, v in rec["counts"].items():
            counts[k] = counts.get(k, 0) + v
        for src, dst in ((rec["refusals"], refusals), (rec["drops"], drops),
                         (rec["local_errors"], local), (rec.get("diagnostics", {}), diagnostics)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
        for k in HISTOGRAMS:
            hist[k].merge(Histogram.from_wire(rec["hist"][k]))
        for p in PHASES:
            ph = rec["phases"][p]
            for k in ("opened", "failed", "dropped"):
                phase_counts[p][k] += ph[k]
            for k in ("lag_ms", "first_event_ms"):
                phase_hist[p][k].merge(Histogram.from_wire(ph[k]))
        for bands, key in ((lag_bands, "lag_bands"), (fe_bands, "first_event_bands")):
            for h, wire in zip(bands, rec[key]):
                h.merge(Histogram.from_wire(wire))
        fr = rec["first_refusal"]
        if fr is not None and (first_refusal is None or fr[0] < first_refusal[0]):
            # streams started by then, fleet-wide: this worker's count times the workers
            first_refusal = (fr[0], min(settings.streams, fr[1] * workers))
        if rec["first_drop_s"] is not None:
            first_drop = min(first_drop, rec["first_drop_s"]) if first_drop is not None \
                else rec["first_drop_s"]
            last_drop = max(last_drop or 0.0, rec["last_drop_s"])
        rss += max(0, f["rss_peak"] - f["rss_base"])
        cpus.append(f["cpu_percent"])
        cpu_max = max(cpu_max, f["cpu_max"])
        loops.add(f["loop"])
        ramp_end = max(ramp_end, f.get("ramp_end_s") or 0.0)
    series = merge.series()
    peak = max([s["open"] for s in series] + [0])
    # The series' busiest second; each worker's own peak may come at another moment.
    counts["peak_open"] = peak or counts.get("peak_open", 0)
    phases = []
    bounds = {"ramp": (0.0, ramp_end or settings.ramp_s),
              "hold": (ramp_end or settings.ramp_s, elapsed)}
    for p in PHASES:
        start, end = bounds[p]
        phases.append({"name": p, "start_s": round(start, 2), "end_s": round(max(start, end), 2),
                       **phase_counts[p],
                       "lag_ms": phase_hist[p]["lag_ms"].summary(),
                       "first_event_ms": phase_hist[p]["first_event_ms"].summary()})
    return LoadObservation(
        url=target.url, protocol=target.protocol, settings=settings, workers=workers,
        loop="/".join(sorted(loops)) or "none", interrupted=interrupted, counts=counts,
        refusals=refusals, drops=drops, local_errors=local, hist=hist, phases=phases,
        series=series, lag_bands=lag_bands, first_event_bands=fe_bands,
        first_refusal=first_refusal, first_drop_s=first_drop, last_drop_s=last_drop,
        cpu_percent=max(cpus) if cpus else 0.0, cpu_max=cpu_max,
        kib_per_stream=(rss / counts["peak_open"] / 1024) if counts["peak_open"] else None,
        errors=errors, elapsed_s=elapsed, diagnostics=diagnostics)
