"""The I/O shell of one load worker: asyncio.Protocol connections (callbacks, no task per
read) that hand every read to a sans-I/O stream core (streams.py), a ramp with a bounded
number of connects in flight, one TLS context per process, and a once-a-second sample sent
to the parent over a pipe. Runs on uvloop when it is installed."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import signal
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

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

_perf = time.perf_counter  # the arrival stamp of every read, looked up once
TICK_S = 0.1  # deadline checks while connects are under way
SOURCE_SPAN = 8000  # streams per loopback source address (see Worker._source)
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux's value
CLOSE_WAIT_S = 2.0  # at the end, how long closing connections may take before an abort


@dataclass
class WorkerConfig:
    index: int
    workers: int
    target: LoadTarget
    share: int  # streams this worker opens
    ramp: float  # this worker's new streams per second
    hold_s: float
    t0: float  # the run's origin (perf_counter, one clock for every process on Linux)
    start_s: float  # when this worker's ramp starts, seconds after t0
    reconnect: bool
    lag: LagSpec
    max_inflight: int
    insecure: bool = False
    cacert: str | None = None
    loop: str = "auto"  # auto | asyncio
    source_span: int = SOURCE_SPAN  # streams per loopback source address (Worker._source)


def _ssl_context(cfg: WorkerConfig) -> ssl.SSLContext | None:
    if not cfg.target.tls:
        return None
    if cfg.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=cfg.cacert) if cfg.cacert \
        else ssl.create_default_context()


def _error_kind(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "reset" if isinstance(exc, OSError) else "broken"


class StreamProtocol(asyncio.Protocol):
    """One connection: every callback goes straight to the stream core."""

    __slots__ = ("worker", "core", "request", "transport", "inflight")

    def __init__(self, worker: Worker, core: SseStream | WsStream, request: bytes) -> None:
        self.worker = worker
        self.core = core
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.inflight = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        core = self.core
        if isinstance(core, WsStream):
            transport.write(core.initial())  # type: ignore[attr-defined]
        else:
            transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        core = self.core
        out = core.feed(data, _perf())
        if out:
            self.transport.write(out)  # type: ignore[union-attr]
        state = core.state
        if state == OPEN and not self.inflight and not core.want_close:
            return  # an open stream's read: nothing for the shell to do
        if state != OPENING:
            self._settled()
        if state == CLOSED or core.want_close:
            self.transport.close()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.core.eof(time.perf_counter(), None)
        self._settled()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.eof(time.perf_counter(), _error_kind(exc))
        self._settled()
        self.worker.forget(self)

    def _settled(self) -> None:
        if self.inflight and self.core.state != OPENING:
            self.inflight = False
            self.worker.settled(self)


class Worker:
    def __init__(self, cfg: WorkerConfig, conn: Any) -> None:
        self.cfg = cfg
        self.conn = conn
        # A forked worker holds a copy of the parent's end of the pipe too, so a parent that
        # died (SIGKILL) never shows as EOF: its pid changing does.
        self.parent_pid = os.getppid()
        self.rec = LoadRecorder(cfg.share, cfg.t0)
        self.lag = LagReader(cfg.lag)
        self.ssl = _ssl_context(cfg)
        self.request = cfg.target.request_bytes()
        self.streams: set[StreamProtocol] = set()  # every live connection, strongly held
        self.opening: set[StreamProtocol] = set()
        self.tasks: set[asyncio.Task] = set()
        self.sem = asyncio.Semaphore(cfg.max_inflight)
        self.stop = asyncio.Event()
        self.stopping = False
        # The run loop's current nap (a future and when it ends): a stop, or a connect while it
        # naps to the next second, cuts it short.
        self._nap: asyncio.Future | None = None
        self._nap_end = 0.0
        self._parent_watched = False  # the parent's pipe wakes the loop (no polling)
        self.addr: tuple | None = None
        self.loopback4 = False  # the target is 127.x: connects may spread over source addresses
        self.cpu_last = (time.perf_counter(), time.process_time())
        self.rss_base = 0
        self.rss_peak = 0
        self.cpu_samples: list[float] = []

    # --- connections ------------------------------------------------------------------------------
    def spawn(self, previous: SseStream | WsStream | None = None) -> None:
        """A new stream; ``previous``: the stream it reconnects (its parser carries the last
        event id and retry over, as a browser's EventSource does)."""
        task = asyncio.ensure_future(self._connect(previous))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self, previous: SseStream | WsStream | None) -> None:
        cfg = self.cfg
        now = time.perf_counter()
        reconnect = previous is not None
        request = self.request
        if cfg.target.protocol == "ws":
            core: SseStream | WsStream = WsStream(self.rec, self.lag, now, cfg.target, reconnect)
        else:
            parser = previous.parser if isinstance(previous, SseStream) else None
            core = SseStream(self.rec, self.lag, now, cfg.target.idle_limit, parser=parser,
                             reconnect=reconnect, head_only=cfg.target.method == "HEAD")
            if parser is not None and parser.last_event_id:
                request = cfg.target.request_bytes(parser.last_event_id)
        proto = StreamProtocol(self, core, request)
        self.streams.add(proto)
        self.opening.add(proto)
        if self._nap_end > now + TICK_S:
            self._wake()  # its deadline needs the tick
        host, port = self.addr  # type: ignore[misc]
        loop = asyncio.get_running_loop()
        source = self._source()
        try:
            if source is None:
                await asyncio.wait_for(loop.create_connection(
                    lambda: proto, host, port, ssl=self.ssl,
                    server_hostname=cfg.target.host if self.ssl else None),
                    cfg.target.timeout)
            else:
                await asyncio.wait_for(self._connect_from(source, proto), cfg.target.timeout)
        except asyncio.CancelledError:  # the run ended while this connect was under way
            core.client_close(time.perf_counter())
            self._drop_unconnected(proto)
            raise
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS,
                             errno.ENOMEM):
                core.state = CLOSED
                self.rec.local_error(errno.errorcode.get(exc.errno or 0, "OSError"))
            elif isinstance(exc, ConnectionRefusedError):
                core.state = CLOSED
                self.rec.refused("refused", time.perf_counter())
            else:
                core.eof(time.perf_counter(), _error_kind(exc))
            self._drop_unconnected(proto)
        except TimeoutError:
            core.deadline(time.perf_counter())
            self._drop_unconnected(proto)

    def _source(self) -> str | None:
        """The local address of the connect just added to ``streams``: None (the kernel's
        choice) for the fleet's first ``source_span`` streams; past that, to a loopback
        target, 127.0.0.2, .3, ...

        Why: connect() picks a local port for the (source, destination) pair by scanning the
        ephemeral range (28,232 ports here), even ports first. Once one destination holds
        about half the range from one source, every connect scans thousands of taken ports in
        the kernel (measured: both workers at ~40 % of a core in system time, the ramp down
        from 2,000 to a few hundred connects a second at ~14,000 streams, loops blocked for
        seconds). Each loopback source address has its own range."""
        addr = self.addr
        if addr is None or not self.loopback4:
            return None
        cfg = self.cfg
        block = ((len(self.streams) - 1) * cfg.workers + cfg.index) // cfg.source_span
        return f"127.0.0.{1 + block}" if 0 < block < 254 else None

    async def _connect_from(self, source: str, proto: StreamProtocol) -> None:
        """create_connection from ``source`` (port chosen at connect, for the whole 4-tuple:
        IP_BIND_ADDRESS_NO_PORT; a plain bind would take a port exclusively)."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with contextlib.suppress(OSError):  # Linux >= 4.2
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
            await loop.sock_connect(sock, self.addr)
            await loop.create_connection(
                lambda: proto, sock=sock, ssl=self.ssl,
                server_hostname=self.cfg.target.host if self.ssl else None)
        except BaseException:
            sock.close()
            raise

    def _drop_unconnected(self, proto: StreamProtocol) -> None:
        if proto.inflight:
            proto.inflight = False
            self.sem.release()
        self.opening.discard(proto)
        self.streams.discard(proto)

    def settled(self, proto: StreamProtocol) -> None:
        self.sem.release()
        self.opening.discard(proto)

    def forget(self, proto: StreamProtocol) -> None:
        self.streams.discard(proto)
        self.opening.discard(proto)
        core = proto.core
        if self.cfg.reconnect and not self.stopping and core.t_head:
            asyncio.get_running_loop().call_later(core.retry_s, self._reconnect, core)

    def _reconnect(self, previous: SseStream | WsStream) -> None:
        if not self.stopping:
            self.spawn(previous)

    # --- the run ---------------------------------------------------------------------------------
    async def ramp(self) -> None:
        cfg = self.cfg
        start = cfg.t0 + cfg.start_s
        for i in range(cfg.share):
            due = start + i / cfg.ramp
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.sem.acquire()
            if self.stopping:
                self.sem.release()
                return
            self.spawn()

    def _deadlines(self, now: float) -> None:
        limit = self.cfg.target.timeout
        late = [p for p in self.opening
                if p.transport is not None and now - p.core.t_start > limit]
        for p in late:
            p.core.deadline(now)
            p._settled()
            p.transport.close()  # type: ignore[union-attr]

    def _sample(self, now: float) -> None:
        if self.orphaned:  # checked each second: the pipe never reports a dead parent
            self._stop()
            return
        wall, cpu = time.perf_counter(), time.process_time()
        w0, c0 = self.cpu_last
        self.cpu_last = (wall, cpu)
        pct = 100.0 * (cpu - c0) / max(1e-6, wall - w0)
        self.cpu_samples.append(pct)
        self.rss_peak = max(self.rss_peak, _rss())
        self._send(("sample", self.cfg.index, self.rec.second(now, round(pct, 1))))

    def _send(self, msg: Any) -> None:
        try:
            self.conn.send(msg)
        except (BrokenPipeError, OSError):  # the parent is gone: stop quietly
            self.stop.set()

    @property
    def orphaned(self) -> bool:
        return os.getppid() != self.parent_pid

    def _poll_parent(self) -> None:
        try:
            while self.conn.poll():
                if self.conn.recv() == "stop":
                    self._stop()
        except (EOFError, OSError):  # the parent is gone
            self._unwatch_parent()
            self._stop()

    def _unwatch_parent(self) -> None:
        if self._parent_watched:
            self._parent_watched = False
            try:
                asyncio.get_running_loop().remove_reader(self.conn.fileno())
            except (OSError, ValueError, RuntimeError):
                pass

    def _watch_parent(self, loop: asyncio.AbstractEventLoop) -> None:
        """The parent's messages as loop events, so a worker that only holds streams sleeps
        until its next sample instead of polling the pipe ten times a second."""
        try:
            loop.add_reader(self.conn.fileno(), self._poll_parent)
        except (AttributeError, NotImplementedError, OSError, ValueError):
            return  # not a pipe (or no add_reader): the run loop polls it each tick
        self._parent_watched = True

    def _stop(self) -> None:
        self.stop.set()
        self._wake()

    def _wake(self) -> None:
        nap = self._nap
        if nap is not None and not nap.done():
            nap.set_result(None)

    async def _sleep(self, delay: float) -> None:
        """asyncio.sleep that _wake() ends early (a plain future: wait_for makes a task)."""
        loop = asyncio.get_running_loop()
        nap = self._nap = loop.create_future()
        self._nap_end = time.perf_counter() + delay
        handle = loop.call_later(delay, _done, nap)
        try:
            await nap
        finally:
            handle.cancel()
            self._nap = None
            self._nap_end = 0.0

    async def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Signals end the run; the target is resolved once for every stream."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stop)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Windows
                pass
        self.rss_base = _rss()
        infos = await loop.getaddrinfo(self.cfg.target.host, self.cfg.target.port,
                                       type=socket.SOCK_STREAM)
        self.addr = infos[0][4][:2]
        self.loopback4 = infos[0][0] == socket.AF_INET and self.addr[0].startswith("127.")
        self._watch_parent(loop)

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        await self._start(loop)
        ramp = asyncio.ensure_future(self.ramp())
        ramp.add_done_callback(lambda _: self._wake())
        ramp_done_at: float | None = None  # when the hold began
        spawned_at: float | None = None  # when the ramp had started its last connect
        frozen = False
        next_sample = cfg.t0 + 1.0
        while True:
            now = time.perf_counter()
            if ramp_done_at is None and ramp.done():
                if spawned_at is None:
                    spawned_at = now
                # The hold begins once the ramp's connects have settled (or timed out): the
                # last ones' opening is still the ramp's load, not the steady state.
                if not self.opening or now - spawned_at > cfg.target.timeout:
                    if not frozen:
                        # Every stream's objects now live as long as the run: a full
                        # collection would walk them all (tens of ms at 10,000 streams) and
                        # stall every read behind it. Done once, here, and the reads it
                        # delays count for the ramp (the hold begins at the next tick).
                        gc.collect()
                        gc.freeze()
                        frozen = True
                    else:
                        ramp_done_at = now
                        self.rec.hold()
            if self.stop.is_set():
                break
            if ramp_done_at is not None and now >= ramp_done_at + cfg.hold_s:
                break
            if self.opening:
                self._deadlines(now)
            if not self._parent_watched:
                self._poll_parent()
            if now >= next_sample:
                self._sample(now)
                next_sample += 1.0
                if next_sample <= now:  # a blocked second: skip, never a burst of samples
                    next_sample = now + 1.0
                if cfg.target.ping_interval:
                    self._pings(now)
            # Ticks only while connects are under way (their deadlines) or the parent's pipe is
            # polled; a worker that only holds streams wakes for its next sample or the end
            # of the hold: every wake-up of an idle process costs more than a heartbeat.
            if self.opening or not self._parent_watched or ramp_done_at is None:
                delay = TICK_S
            else:
                delay = min(next_sample, ramp_done_at + cfg.hold_s) - time.perf_counter()
            await self._sleep(max(0.0, min(delay, 1.0)))
        interrupted = self.stop.is_set()
        now = await self._shut_down(ramp)
        cpu = self.cpu_samples[1:] or self.cpu_samples  # the first second includes start-up
        return {"rec": self.rec.to_wire(), "interrupted": interrupted,
                "loop": _loop_name(),
                "ramp_end_s": (ramp_done_at or now) - cfg.t0, "rss_base": self.rss_base,
                "rss_peak": self.rss_peak,
                "cpu_percent": sum(cpu) / len(cpu) if cpu else 0.0,
                "cpu_max": max(cpu) if cpu else 0.0}

    async def _shut_down(self, ramp: asyncio.Future[Any]) -> float:
        """Stop connecting, take the last sample, close every stream (the server sees a clean
        close where it can, an abort after CLOSE_WAIT_S); returns when the sample was taken."""
        self.stopping = True
        self._unwatch_parent()
        ramp.cancel()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(ramp, *self.tasks, return_exceptions=True)
        now = time.perf_counter()
        self._sample(now)
        self.rss_peak = max(self.rss_peak, _rss())
        for p in list(self.streams):
            out = p.core.client_close(now)
            if out and p.transport is not None:
                p.transport.write(out)
            if p.transport is not None:
                p.transport.close()
        end = time.perf_counter() + CLOSE_WAIT_S
        while self.streams and time.perf_counter() < end:
            await asyncio.sleep(0.02)
        for p in list(self.streams):
            if p.transport is not None:
                p.transport.abort()
        await asyncio.sleep(0)
        return now

    def _pings(self, now: float) -> None:
        interval = self.cfg.target.ping_interval or 0
        for p in list(self.streams):
            core = p.core
            if isinstance(core, WsStream) and now - core.t_start >= interval \
                    and p.transport is not None:
                out = core.ping()
                if out:
                    p.transport.write(out)


def _done(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    try:  # os.open, not open(): a sample a second should not go through the io stack
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            return int(os.read(fd, 256).split()[1]) * _PAGE
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):  # not Linux
        import psutil

        return psutil.Process().memory_info().rss


def _loop_name() -> str:
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def raise_open_files_limit() -> tuple[int, int]:
    """Soft open-files limit raised to the hard one; returns (soft, hard) after."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return (1 << 30, 1 << 30)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft, hard


def worker_main(cfg: WorkerConfig, conn: Any) -> None:
    """The worker process: run, then hand the counts back (also on Ctrl-C, never a
    traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the loop's own handler is in place
    parent = os.getppid()
    raise_open_files_limit()
    worker_holder: dict[str, Worker] = {}

    async def main() -> dict[str, Any]:
        w = Worker(cfg, conn)
        worker_holder["w"] = w
        return await w.run()

    try:
        try:
            if cfg.loop == "asyncio":
                raise ImportError
            import uvloop
        except ImportError:
            result = asyncio.run(main())
        else:
            result = uvloop.run(main())
        if os.getppid() == parent:
            conn.send(("final", cfg.index, result))
    except BaseException as exc:  # noqa: BLE001 - the parent reports it in one line
        try:
            if os.getppid() != parent:
                return
            conn.send(("error", cfg.index, f"{type(exc).__name__}: {exc}"))
        except (BrokenPipeError, OSError):
            pass
    finally:
        conn.close()
