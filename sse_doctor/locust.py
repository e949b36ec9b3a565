"""sse-doctor inside Locust, for more streams than one machine holds:

    from sse_doctor.locust import DenseSseUser, SseUser

    class Events(SseUser):             # one stream per Locust user (a greenlet)
        path = "/sse/clock"
        hold_s = 60

    class Many(DenseSseUser):          # dense: 5,000 streams per Locust user
        path = "/sse/clock"
        hold_s = 60
        streams_per_user = 5000
        ramp = 500                     # new streams per second, per user

    # one machine drives, each load machine runs one worker per core:
    locust -f locustfile.py --headless --master --expect-workers 8 -u 8 -r 8 -t 5m \
        --host http://10.0.0.5:8000 --sse-doctor-json load.json Many
    locust -f locustfile.py --worker --master-host 10.0.0.1 --processes 4 Many
    # or all on one machine: locust -f locustfile.py --headless --processes 2 -u 2 ... Many

One-stream users (SseUser, WebSocketUser) hold one stream each with the same sans-I/O core as
`sse-doctor load` (load/streams.py) on a gevent socket: raw ``recv`` of whatever arrived, never
a read of N bytes that would sit on heartbeats (geventhttpclient's ``read(n)`` does).

Dense users (DenseSseUser, DenseWebSocketUser) hold ``streams_per_user`` streams each with the
`sse-doctor load` engine itself (load/driver.py's asyncio.Protocol streams, LoadRecorder and
histograms, through load/threaded.py) on an event loop in an OS thread of the Locust process:
uvloop when installed, else the stock loop on the original (unpatched) epoll selector. Locust
workers are gevent-monkey-patched: the thread comes from gevent's ThreadPool, and only the
hub's thread calls Locust (request events, messages); the engine hands its counts over once a
second through a deque. For thousands of streams per worker process, where a greenlet and a
gevent socket per stream cost more CPU and memory (bench/locust_dense_bench.py).

Locust's statistics get ``SSE``/``WS`` requests named ``connect`` (time to the response head),
``first event`` and ``stream`` (the whole hold; failed when the stream was refused or dropped);
dense users report them in bulk once a second, their times at the histograms' precision. Lag
and the other times go into sse-doctor's own histograms (Locust rounds response times), which
every worker ships to the master in its regular reports (``report_to_master``/
``worker_report``). When the test stops the master asks every worker for its final counts
(custom messages: dense engines close thousands of streams, which takes longer than Locust
waits for a last report) and, when Locust quits, writes the same JSON/JUnit/HTML report as
`sse-doctor load`, with the fleet checks run once on the merged counts; Ctrl-C stops every
engine, and the report is marked interrupted.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

try:
    import gevent
    import gevent.event
    import gevent.threadpool
    from gevent import socket as gsocket
    from locust import User, constant, events, task
    from locust.runners import (
        STATE_MISSING,
        STATE_RUNNING,
        STATE_SPAWNING,
        MasterRunner,
        WorkerRunner,
    )
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("sse_doctor.locust needs Locust: pip install 'sse-doctor[locust]'") from exc

from sse_doctor.load.driver import CLOSE_WAIT_S, WorkerConfig
from sse_doctor.load.fleet import SampleMerge, merge_finals
from sse_doctor.load.observation import LoadSettings
from sse_doctor.load.recorder import LoadRecorder
from sse_doctor.load.streams import (
    CLOSED,
    OPEN,
    OPENING,
    LagReader,
    LagSpec,
    LoadTarget,
    SseStream,
    WsStream,
)
from sse_doctor.load.threaded import News, ThreadLink, run_in_this_thread

__all__ = ["SseUser", "WebSocketUser", "DenseSseUser", "DenseWebSocketUser"]

# A dense user's engine, asked to stop, closes its connections within CLOSE_WAIT_S (then aborts
# them) and hands back its counts; past this it is reported as a worker error.
STOP_WAIT_S = CLOSE_WAIT_S + 4.0
# How long the master waits, when the test stops, for every worker's final counts.
GATHER_WAIT_S = STOP_WAIT_S + 4.0
MAX_DENSE_THREADS = 256  # dense users per Locust process (one OS thread each)
MSG_STOP = "sse_doctor_stop"  # master -> workers: stop the dense engines, send the final counts
MSG_FINAL = "sse_doctor_final"  # worker -> master: its final counts


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class _Local:
    """What this Locust process's users counted: the one-stream users share one LoadRecorder
    (source "g"), each dense user has its own (source "d1", "d2", ...)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.rec: LoadRecorder | None = None
        self.lag: LagReader | None = None
        self.samples: list[list[Any]] = []  # [source, sample] not yet sent to the master
        self.rss_base = _rss()
        self.rss_peak = self.rss_base
        self.cpu: list[float] = []
        self.sampler: Any = None
        self.dense: dict[str, _Dense] = {}
        self.errors: list[str] = []
        self.finished = False  # the test is stopping: dense users open nothing more
        self.final_sent = False
        self.final_done = gevent.event.Event()
        self.test_started: float | None = None

    def start_sampling(self) -> None:
        if self.sampler is None:
            self.rss_base = self.rss_peak = _rss()
            self.sampler = gevent.spawn(self._sample_forever)

    def recorder(self, env: Any, user: Any) -> tuple[LoadRecorder, LagReader]:
        if self.rec is None:
            share = getattr(env.runner, "target_user_count", 0) or 1
            self.rec = LoadRecorder(share, self.t0)
            self.lag = LagReader(user._lag_spec())
            self.start_sampling()
        return self.rec, self.lag  # type: ignore[return-value]

    def dense_for(self, user: _DenseUser) -> _Dense:
        dense = getattr(user, "_sse_doctor_dense", None)
        if dense is None:
            dense = _Dense(user, f"d{len(self.dense) + 1}")
            self.dense[dense.source] = dense
            user._sse_doctor_dense = dense
            self.start_sampling()
        return dense

    def _sample_forever(self) -> None:
        last = (time.perf_counter(), time.process_time())
        while True:
            gevent.sleep(1.0)
            now, cpu = time.perf_counter(), time.process_time()
            pct = 100.0 * (cpu - last[1]) / max(1e-6, now - last[0])
            last = (now, cpu)
            self.cpu.append(pct)
            self.rss_peak = max(self.rss_peak, _rss())
            if self.rec is not None:
                self.samples.append(["g", self.rec.second(now, round(pct, 1))])

    def finals(self) -> dict[str, dict[str, Any]]:
        """Every generator's latest cumulative counts, in the shape of a load worker's final.
        CPU and memory are the process's (every generator here shares them): the memory
        growth goes with the first generator only, so that the master adds it up once."""
        cpu = self.cpu[1:] or self.cpu
        common = {"interrupted": False, "ramp_end_s": None, "rss_base": 0, "rss_peak": 0,
                  "cpu_percent": sum(cpu) / len(cpu) if cpu else 0.0,
                  "cpu_max": max(cpu) if cpu else 0.0}
        out: dict[str, dict[str, Any]] = {}
        if self.rec is not None:
            out["g"] = {**common, "rec": self.rec.to_wire(), "loop": "gevent"}
        for source, dense in self.dense.items():
            if dense.wire is not None:
                out[source] = {**common, "rec": dense.wire, "loop": dense.loop_name,
                               "ramp_end_s": dense.ramp_end_s}
        if out:
            next(iter(out.values())).update(rss_base=self.rss_base, rss_peak=self.rss_peak)
        return out

    def payload(self) -> dict[str, Any] | None:
        """What goes to the master (or the local report): cumulative counts, new samples."""
        for dense in self.dense.values():
            dense.pump()
        if self.rec is None and not self.dense:
            return None
        out = {"finals": self.finals(), "samples": self.samples, "errors": list(self.errors)}
        self.samples = []
        return out

    def stop_dense(self) -> None:
        """Stop every dense engine and wait (cooperatively, bounded) until each has handed
        back its counts; no dense user opens streams after this until the next test."""
        self.finished = True
        for dense in self.dense.values():
            if dense.link is not None:
                dense.link.stop()
        deadline = time.monotonic() + STOP_WAIT_S + 1.0
        for dense in self.dense.values():
            dense.idle.wait(timeout=max(0.0, deadline - time.monotonic()))


_LOCAL = _Local()
_MASTER: dict[tuple[str, str], dict[str, Any]] = {}  # (worker, generator) -> latest counts
_MERGE = SampleMerge(1)
_INDEX: dict[tuple[str, str], int] = {}  # (worker, generator) -> its index in _MERGE
_ERRORS: dict[str, list[str]] = {}
_FINAL_FROM: set[str] = set()  # workers whose final counts arrived
_EXPECTED: set[str] = set()
_ALL_FINAL = gevent.event.Event()
_GATHERED = [False]


# --- dense mode: the load engine on an event loop in an OS thread -------------------------------
# Locust workers are gevent-monkey-patched, so threading, socket and selectors are gevent's. The
# engine thread comes from gevent's ThreadPool (real OS threads, a result the hub is woken for);
# uvloop does its own I/O in C (libuv) and is safe there. The stock loop is given the original
# epoll selector, resolver and socket class: gevent's would wait on a gevent hub of the engine's
# thread. (Only its self-pipe, two sockets per loop, stays gevent's, in non-blocking mode where
# every call goes straight to the OS.)
_POOL: list[Any] = []
_LOOPS: dict[str, tuple[Callable[[], asyncio.AbstractEventLoop], str]] = {}


def _pool() -> Any:
    if not _POOL:
        _POOL.append(gevent.threadpool.ThreadPool(MAX_DENSE_THREADS))
    return _POOL[0]


def _loop_factory(kind: str) -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    """A loop class for an engine thread (signal handlers refused: only the main thread can
    take them, and Locust's does) and its name for the report."""
    if kind in _LOOPS:
        return _LOOPS[kind]
    made: tuple[Callable[[], asyncio.AbstractEventLoop], str] | None = None
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            class _UvThreadLoop(uvloop.Loop):  # type: ignore[misc,name-defined]
                def add_signal_handler(self, *args: Any) -> None:
                    raise NotImplementedError("signals go to Locust's main thread")

            made = (_UvThreadLoop, "uvloop")
    if made is None:
        from gevent import monkey

        selector = monkey.get_original("selectors", "DefaultSelector")
        resolve = monkey.get_original("socket", "getaddrinfo")
        real_socket = monkey.get_original("socket", "socket")

        class _ThreadLoop(asyncio.SelectorEventLoop):
            def __init__(self) -> None:
                super().__init__(selector())

            def add_signal_handler(self, *args: Any) -> None:
                raise NotImplementedError("signals go to Locust's main thread")

            async def getaddrinfo(self, host: Any, port: Any, *, family: int = 0,  # type: ignore[override]
                                  type: int = 0, proto: int = 0, flags: int = 0) -> Any:
                # once per run, before any stream: blocking here is cheaper than an executor
                return resolve(host, port, family, type, proto, flags)

            async def create_connection(self, protocol_factory: Any, host: Any = None,  # type: ignore[override]
                                        port: Any = None, **kw: Any) -> Any:
                # asyncio would make a gevent socket (socket.socket is gevent's here): connect
                # an original one and hand it over. The driver passes an address, resolved.
                if host is None or kw.get("sock") is not None:
                    return await super().create_connection(protocol_factory, host, port, **kw)
                family, kind, proto, _, addr = resolve(host, port, 0, socket.SOCK_STREAM)[0]
                sock = real_socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    await self.sock_connect(sock, addr)
                except BaseException:
                    sock.close()
                    raise
                return await super().create_connection(protocol_factory, sock=sock, **kw)

        made = (_ThreadLoop, "asyncio")
    _LOOPS[kind] = made
    return made


def _run_engine(cfg: WorkerConfig, link: ThreadLink,
                new_loop: Callable[[], asyncio.AbstractEventLoop]) -> tuple[str, Any]:
    """In the engine thread. Never raises: the pool would print a traceback from the hub."""
    try:
        return "final", run_in_this_thread(cfg, link, new_loop)
    except BaseException as exc:  # noqa: BLE001 - reported in one line in the report
        return "error", f"{type(exc).__name__}: {exc}"


class _Dense:
    """One dense user's engine: a LoadRecorder its runs share (one after another), the current
    run's thread and link, and the counts it last reported. Only the hub thread touches it."""

    def __init__(self, user: _DenseUser, source: str) -> None:
        self.user = user
        self.source = source
        self.rec = LoadRecorder(user.streams_per_user, _LOCAL.t0)
        self.link: ThreadLink | None = None
        self.result: Any = None
        self.idle = gevent.event.Event()
        self.idle.set()
        self.wire: dict[str, Any] | None = None
        self.loop_name = ""
        self.ramp_end_s: float | None = None
        self.t_start = 0.0
        self.before = (0, 0)  # opened, dropped when this run started

    def start(self) -> None:
        user = self.user
        new_loop, self.loop_name = _loop_factory(user.loop)
        now = time.perf_counter()
        inflight = user.max_inflight or max(64, min(2000, int(user.ramp * user.timeout)))
        cfg = WorkerConfig(
            index=0, workers=1, target=user._target(), share=user.streams_per_user,
            ramp=user.ramp, hold_s=user.hold_s, t0=_LOCAL.t0, start_s=now - _LOCAL.t0,
            reconnect=user.reconnect, lag=user._lag_spec(), max_inflight=inflight,
            insecure=user.insecure, cacert=user.cacert, loop=user.loop)
        self.link = ThreadLink(self.rec)
        self.before = (self.rec.opened, self.rec.dropped)
        self.t_start = now
        self.idle.clear()
        self.result = _pool().spawn(_run_engine, cfg, self.link, new_loop)

    def wait(self) -> None:
        """Until the run ends (its hold is over, or it was stopped), firing Locust's request
        events once a second."""
        while not self.result.ready():
            gevent.wait([self.result], timeout=1.0)
            self.pump()

    def pump(self) -> None:
        if self.link is None:
            return
        for up in self.link.drain():
            _LOCAL.samples.append([self.source, up.sample])
            self.wire = up.rec
            if up.ramp_done and self.ramp_end_s is None:
                self.ramp_end_s = up.sample["t_s"]
            self._fire(up.news, up.sample["t_s"])

    def _fire(self, news: News, t_s: float) -> None:
        fire = self.user._fire
        for ms, n in news.connects:
            for _ in range(n):
                fire("connect", ms)
        for kind, n in news.refusals.items():
            exc = RuntimeError(f"refused: {kind}")
            for _ in range(n):
                fire("connect", 0.0, exc=exc)
        for ms, n in news.first_events:
            for _ in range(n):
                fire("first event", ms)
        held_ms = max(0.0, (_LOCAL.t0 + t_s - self.t_start) * 1000)
        for how, n in news.drops.items():
            exc = RuntimeError(f"dropped: the stream {how} before the hold did")
            for _ in range(n):
                fire("stream", held_ms, exc=exc)

    def finish(self) -> None:
        """Stop the run (if it is still going) and take its final counts; bounded."""
        link = self.link
        if link is None:
            return
        try:
            link.stop()
            try:
                kind, value = self.result.get(timeout=STOP_WAIT_S)
            except gevent.Timeout:
                kind, value = "error", f"a dense user's engine did not stop within " \
                                       f"{STOP_WAIT_S:g} s"
            self.pump()
            if kind == "final":
                self.wire = value["rec"]
                self.ramp_end_s = value["ramp_end_s"]
                held = (self.rec.opened - self.before[0]) - (self.rec.dropped - self.before[1])
                ms = (time.perf_counter() - self.t_start) * 1000
                for _ in range(max(0, held)):
                    self.user._fire("stream", ms)
            else:  # the run could not start (no such host...): once in the report
                if value not in _LOCAL.errors:
                    _LOCAL.errors.append(value)
                self.user._fire("connect", 0.0, exc=RuntimeError(value))
        finally:
            self.link = None
            self.idle.set()


class _StreamUser(User):
    """What every sse-doctor user has: the target, its options, Locust's statistics."""

    abstract = True
    path: ClassVar[str] = "/"
    hold_s: ClassVar[float] = 30.0
    headers: ClassVar[dict[str, str]] = {}
    timeout: ClassVar[float] = 10.0
    idle_limit: ClassVar[float] = 30.0
    lag_from: ClassVar[str | None] = None  # as --lag-from
    insecure: ClassVar[bool] = False
    wait_time = constant(1)  # a refused or dropped user tries again a second later
    protocol: ClassVar[str] = "sse"
    request_type: ClassVar[str] = "SSE"

    def _target(self) -> LoadTarget:
        base = (self.host or "").rstrip("/")
        if self.protocol == "ws":
            base = "ws" + base[4:] if base.startswith("http") else base
        url = base + self.path
        parts = urlsplit(url)
        tls = parts.scheme in ("https", "wss")
        return LoadTarget(url=url, protocol=self.protocol, host=parts.hostname or "",
                          port=parts.port or (443 if tls else 80), tls=tls,
                          headers=list(self.headers.items()), timeout=self.timeout,
                          idle_limit=self.idle_limit,
                          send=tuple(m.encode() for m in getattr(self, "send", ())),
                          ping_interval=getattr(self, "ping_interval", None))

    def _lag_spec(self) -> LagSpec:
        host = urlsplit(self.host or "").hostname or ""
        loopback = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
        return LagSpec.parse(self.lag_from, loopback)

    def _fire(self, name: str, ms: float, length: int = 0, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=self.request_type, name=name, response_time=ms,
            response_length=length, exception=exc, context={})


class _OneStreamUser(_StreamUser):
    """One stream per user, on a gevent socket."""

    abstract = True

    @task
    def hold(self) -> None:
        rec, lag = _LOCAL.recorder(self.environment, self)
        target = self._target()
        t_start = time.perf_counter()
        if self.protocol == "ws":
            core: SseStream | WsStream = WsStream(rec, lag, t_start, target)
            first = core.initial()
        else:
            core = SseStream(rec, lag, t_start, target.idle_limit)
            first = target.request_bytes()
        bytes_before = rec.bytes
        sock = None
        try:
            try:
                sock = gsocket.create_connection((target.host, target.port),
                                                 timeout=target.timeout)
                if target.tls:
                    ctx = ssl.create_default_context()
                    if self.insecure:
                        ctx.check_hostname = False
                        ctx.verify_mode = ssl.CERT_NONE
                    sock = ctx.wrap_socket(sock, server_hostname=target.host)
                sock.sendall(first)
            except ConnectionRefusedError as exc:
                core.state = CLOSED
                rec.refused("refused", time.perf_counter())
                self._fire("connect", 0.0, exc=exc)
                return
            except (OSError, gevent.Timeout) as exc:
                core.eof(time.perf_counter(), "tls" if isinstance(exc, ssl.SSLError)
                         else "timeout" if isinstance(exc, TimeoutError) else "reset")
                self._fire("connect", (time.perf_counter() - t_start) * 1000, exc=exc)
                return
            self._read(sock, core, t_start)
        finally:
            now = time.perf_counter()
            held = core.state != CLOSED  # still open: the hold ended, or Locust stops the user
            if held:
                core.client_close(now)
            if sock is not None:
                sock.close()
            error = None
            if not core.t_head:
                error = RuntimeError("stopped before the response head" if held else "refused")
            elif not held:
                error = RuntimeError("dropped: the stream ended before the hold did")
            self._fire("stream", (now - t_start) * 1000, rec.bytes - bytes_before, error)

    def _read(self, sock: Any, core: SseStream | WsStream, t_start: float) -> None:
        end = t_start + self.hold_s
        opened = first_event = False
        while core.state != CLOSED:
            now = time.perf_counter()
            if now >= end:
                return
            wait = end - now
            if core.state == OPENING:
                wait = min(wait, t_start + self.timeout - now)
                if wait <= 0:
                    core.deadline(now)
                    self._fire("connect", (now - t_start) * 1000, exc=TimeoutError("no head"))
                    return
            sock.settimeout(wait)
            try:
                data = sock.recv(65536)  # whatever arrived: never wait for a byte count
            except TimeoutError:
                continue
            except OSError:
                core.eof(time.perf_counter(), "reset")
                break
            if not data:
                core.eof(time.perf_counter(), None)
                break
            out = core.feed(data, time.perf_counter())
            if out:
                sock.sendall(out)
            if not opened and core.state == OPEN:
                opened = True
                self._fire("connect", (core.t_head - t_start) * 1000)
            if not first_event and core.got_event:
                first_event = True
                self._fire("first event", (time.perf_counter() - t_start) * 1000)
            if getattr(core, "want_close", False):
                break
        if not opened and core.state == CLOSED and not core.t_head:
            self._fire("connect", (time.perf_counter() - t_start) * 1000,
                       exc=RuntimeError("refused"))


class SseUser(_OneStreamUser):
    """Holds one SSE stream for ``hold_s`` seconds, then opens the next."""

    abstract = True


class WebSocketUser(_OneStreamUser):
    """Holds one WebSocket (``host`` http(s):// or ws(s)://) for ``hold_s`` seconds."""

    abstract = True
    protocol = "ws"
    request_type = "WS"


class _DenseUser(_StreamUser):
    abstract = True
    streams_per_user: ClassVar[int] = 1000
    ramp: ClassVar[float] = 200.0  # this user's new streams per second
    reconnect: ClassVar[bool] = False  # as `load --reconnect`
    max_inflight: ClassVar[int] = 0  # connects in flight at once; 0: from ramp and timeout
    loop: ClassVar[str] = "auto"  # auto (uvloop when installed) | asyncio
    cacert: ClassVar[str | None] = None

    @task
    def hold(self) -> None:
        if _LOCAL.finished:  # the test is stopping: its counts are gathered already
            return
        dense = _LOCAL.dense_for(self)
        dense.start()
        try:
            dense.wait()
        finally:  # also when Locust kills this user: stop the engine, take its counts
            dense.finish()


class DenseSseUser(_DenseUser):
    """Holds ``streams_per_user`` SSE streams, opened at ``ramp`` per second, for ``hold_s``
    seconds after its ramp (then opens them again), on an event loop (uvloop when installed)
    in an OS thread of this Locust process: the same engine as `sse-doctor load`."""

    abstract = True


class DenseWebSocketUser(_DenseUser):
    """DenseSseUser's WebSocket twin (``send``: texts sent after open; ``ping_interval``)."""

    abstract = True
    protocol = "ws"
    request_type = "WS"
    send: ClassVar[tuple[str, ...]] = ()
    ping_interval: ClassVar[float | None] = None


# --- the master's side ---------------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--sse-doctor-json", metavar="PATH", default=None,
                        help="Write sse-doctor's load report (JSON) here at the end.")
    parser.add_argument("--sse-doctor-junit", metavar="PATH", default=None,
                        help="Write sse-doctor's JUnit XML here at the end.")
    parser.add_argument("--sse-doctor-html", metavar="PATH", default=None,
                        help="Write sse-doctor's HTML report here at the end.")


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(MSG_STOP, _on_stop_request)
        # Added after the runner's own quitting listener, which tells the master this worker
        # quits; quitting fires in reverse order, so the final counts go first (Ctrl-C).
        environment.events.quitting.add_listener(lambda **_: _send_final(environment))
    elif isinstance(runner, MasterRunner):
        runner.register_message(MSG_FINAL, _on_final)


@events.test_start.add_listener
def _on_test_start(**_: Any) -> None:
    _LOCAL.test_started = time.perf_counter()
    if _LOCAL.rec is None and not _LOCAL.dense:
        # The series and first refusals count from here, on every node (not from when each
        # process started): the workers' seconds line up.
        _LOCAL.t0 = _LOCAL.test_started
    _LOCAL.finished = _LOCAL.final_sent = False
    _LOCAL.final_done.clear()
    _FINAL_FROM.clear()
    _ALL_FINAL.clear()
    _GATHERED[0] = False


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    part = _LOCAL.payload()
    if part is not None:
        data["sse_doctor"] = part


@events.worker_report.add_listener
def _worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    part = data.get("sse_doctor")
    if part:
        _take(client_id, part)


def _take(client_id: str, part: dict[str, Any]) -> None:
    for source, final in part["finals"].items():
        _MASTER[(client_id, source)] = final
    for source, sample in part["samples"]:
        _MERGE.add(_INDEX.setdefault((client_id, source), len(_INDEX)), sample)
    if part.get("errors"):
        _ERRORS[client_id] = list(part["errors"])


def _on_stop_request(environment: Any, msg: Any, **_: Any) -> None:
    # Stopping takes up to seconds: not in the worker's message loop.
    gevent.spawn(_send_final, environment)


def _send_final(environment: Any) -> None:
    """A worker's final counts to the master, once per test; a second caller waits for the
    first (the process must not exit before they are sent)."""
    if _LOCAL.final_sent:
        _LOCAL.final_done.wait(timeout=STOP_WAIT_S + 2.0)
        return
    _LOCAL.final_sent = True
    try:
        _LOCAL.stop_dense()
        environment.runner.send_message(MSG_FINAL, _LOCAL.payload() or {})
    finally:
        _LOCAL.final_done.set()


def _on_final(environment: Any, msg: Any, **_: Any) -> None:
    if msg.data:
        _take(msg.node_id, msg.data)
    _FINAL_FROM.add(msg.node_id)
    if _GATHERED[0] and _EXPECTED <= _FINAL_FROM:  # (a worker can send first: its Ctrl-C)
        _ALL_FINAL.set()


def _gather(runner: Any) -> None:
    """The master: ask every worker for its final counts and wait for them (bounded). A
    headless master quits about half a second after telling its workers to, before dense
    engines have closed thousands of streams, so the last regular report would come too late."""
    if _GATHERED[0]:
        return
    _GATHERED[0] = True
    _EXPECTED.clear()
    _EXPECTED.update(c.id for c in runner.clients.all if c.state != STATE_MISSING)
    if _EXPECTED <= _FINAL_FROM:
        return
    _ALL_FINAL.clear()
    runner.send_message(MSG_STOP)
    deadline = time.monotonic() + GATHER_WAIT_S
    while not _ALL_FINAL.wait(timeout=0.2) and time.monotonic() < deadline:
        # A worker that quit without its final counts (killed) sends none: stop waiting for it.
        if _EXPECTED & {c.id for c in runner.clients.all} <= _FINAL_FROM:
            break


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        _gather(runner)
    elif isinstance(runner, WorkerRunner):
        _send_final(environment)  # stopped on its own (Ctrl-C): the master gets the counts
    else:
        _LOCAL.stop_dense()


@events.quitting.add_listener
def _write_reports(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    opts = environment.parsed_options
    paths = {k: getattr(opts, f"sse_doctor_{k}", None) for k in ("json", "junit", "html")}
    if not any(paths.values()):
        return
    # Ctrl-C (or SIGTERM) while the test runs: Locust fires quitting before it stops anything,
    # or it stopped the test before its --run-time was over.
    interrupted = runner is not None and runner.state in (STATE_RUNNING, STATE_SPAWNING)
    run_time = float(getattr(opts, "run_time", 0) or 0)
    if run_time and _LOCAL.test_started is not None:
        interrupted |= time.perf_counter() - _LOCAL.test_started < run_time - 0.5
    if isinstance(runner, MasterRunner):
        if interrupted:
            _gather(runner)
    else:
        _LOCAL.stop_dense()
        part = _LOCAL.payload()
        if part is not None:
            _take("local", part)
    write_reports(environment, paths, interrupted)


def _requested(classes: list[type], users: int) -> int:
    """Streams asked for: users x streams per user, by the classes' weights."""
    weights = [max(0, getattr(c, "weight", 1)) for c in classes] or [1]
    per = [getattr(c, "streams_per_user", 1) for c in classes] or [1]
    if not sum(weights):
        weights = [1] * len(per)
    return round(users * sum(w * p for w, p in zip(weights, per)) / sum(weights))


def write_reports(environment: Any, paths: dict[str, str | None],
                  interrupted: bool = False) -> None:
    """The `sse-doctor load` report from what the Locust processes counted."""
    from sse_doctor import api

    classes = environment.user_classes or [SseUser]
    user = classes[0]
    opts = environment.parsed_options
    host = environment.host or user.host or ""
    protocol = "ws" if any(issubclass(c, (WebSocketUser, DenseWebSocketUser))
                           for c in classes) else "sse"
    url = host.rstrip("/") + user.path
    if protocol == "ws" and url.startswith("http"):
        url = "ws" + url[4:]
    parts = urlsplit(url)
    target = LoadTarget(url=url, protocol=protocol, host=parts.hostname or "",
                        port=parts.port or 80, tls=parts.scheme in ("https", "wss"))
    users = int(getattr(opts, "num_users", 0) or 1)
    dense = [c for c in classes if issubclass(c, _DenseUser)]
    ramp = float(getattr(opts, "spawn_rate", 1) or 1)
    if dense:  # every dense user ramps its own streams
        ramp = max(ramp, users * max(c.ramp for c in dense))
    finals = dict(enumerate(_MASTER.values()))
    workers = max(1, len({worker for worker, _ in _MASTER}))
    settings = LoadSettings(streams=_requested(list(classes), users), ramp=ramp,
                            duration=float(getattr(opts, "run_time", 0) or 0),
                            workers=workers, idle_limit=user.idle_limit,
                            reconnect=any(c.reconnect for c in dense))
    elapsed = time.perf_counter() - _LOCAL.t0
    errors = [e for errs in _ERRORS.values() for e in errs]
    # each generator (a process's one-stream users, a dense user) scales its own counts
    obs = merge_finals(target, settings, max(1, len(finals)), _MERGE, finals, errors,
                       interrupted, elapsed)
    obs.workers = workers
    obs.loop = f"{obs.loop} (locust)"
    # judged as `sse-doctor load` judges its own fleet, secrets masked in every output
    report = api.load_report(target, obs, duration_s=elapsed, interrupted=interrupted,
                             headers=user.headers)
    if paths.get("json"):
        report.write_json(paths["json"])
    if paths.get("junit"):
        report.write_junit(paths["junit"])
    if paths.get("html"):
        report.write_html(paths["html"])
