"""sse-doctor inside Locust, for more streams than one machine holds:

    from sse_doctor.locust import SseUser

    class Events(SseUser):
        path = "/sse/clock"
        hold_s = 60

    locust -f locustfile.py --headless --master --expect-workers 4 -u 20000 -r 500 -t 5m \\
        --host http://10.0.0.5:8000 --sse-doctor-json load.json
    locust -f locustfile.py --worker --master-host 10.0.0.1 --processes 4    # on each machine

Each user holds one stream with the same sans-I/O core as `sse-doctor load` (load/streams.py)
on a gevent socket: raw ``recv`` of whatever arrived, never a read of N bytes that would sit on
heartbeats (geventhttpclient's ``read(n)`` does). Locust's statistics get ``SSE``/``WS``
requests named ``connect`` (time to the response head), ``first event`` and ``stream`` (the
whole hold; failed when the stream was refused or dropped). Lag and the other times go into
sse-doctor's own histograms (Locust rounds response times), which every worker ships to the
master in its regular reports (``report_to_master``/``worker_report``); the master (or the
single process) merges them and, when Locust quits, writes the same JSON/JUnit/HTML report as
`sse-doctor load`, with the fleet checks run once on the merged counts.
"""

from __future__ import annotations

import os
import ssl
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

try:
    import gevent
    from gevent import socket as gsocket
    from locust import User, constant, events, task
    from locust.runners import MasterRunner, WorkerRunner
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("sse_doctor.locust needs Locust: pip install 'sse-doctor[locust]'") from exc

from sse_doctor.load.fleet import _Merge, _merge_finals
from sse_doctor.load.observation import LoadSettings
from sse_doctor.load.recorder import Recorder
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

__all__ = ["SseUser", "WebSocketUser"]


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class _Local:
    """What this process's users counted (one per Locust process)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.rec: Recorder | None = None
        self.lag: LagReader | None = None
        self.samples: list[dict[str, Any]] = []  # not yet sent to the master
        self.rss_base = _rss()
        self.rss_peak = self.rss_base
        self.cpu: list[float] = []
        self.sampler: Any = None

    def recorder(self, env: Any, user: Any) -> tuple[Recorder, LagReader]:
        if self.rec is None:
            share = getattr(env.runner, "target_user_count", 0) or 1
            self.rec = Recorder(share, self.t0)
            host = urlsplit(user.host or "").hostname or ""
            loopback = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
            self.lag = LagReader(LagSpec.parse(user.lag_from, loopback))
            self.sampler = gevent.spawn(self._sample_forever)
        return self.rec, self.lag  # type: ignore[return-value]

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
                self.samples.append(self.rec.second(now, round(pct, 1)))

    def final(self, interrupted: bool = False) -> dict[str, Any] | None:
        if self.rec is None:
            return None
        cpu = self.cpu[1:] or self.cpu
        return {"rec": self.rec.to_wire(), "interrupted": interrupted, "loop": "gevent",
                "ramp_end_s": None, "rss_base": self.rss_base, "rss_peak": self.rss_peak,
                "cpu_percent": sum(cpu) / len(cpu) if cpu else 0.0,
                "cpu_max": max(cpu) if cpu else 0.0}


_LOCAL = _Local()
_MASTER: dict[str, dict[str, Any]] = {}  # worker id -> its latest cumulative counts
_MERGE = _Merge(1)
_WORKER_INDEX: dict[str, int] = {}


class _StreamUser(User):
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
                          idle_limit=self.idle_limit)

    def _fire(self, name: str, ms: float, length: int = 0, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=self.request_type, name=name, response_time=ms,
            response_length=length, exception=exc, context={})

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


class SseUser(_StreamUser):
    """Holds one SSE stream for ``hold_s`` seconds, then opens the next."""

    abstract = True


class WebSocketUser(_StreamUser):
    """Holds one WebSocket (``host`` http(s):// or ws(s)://) for ``hold_s`` seconds."""

    abstract = True
    protocol = "ws"
    request_type = "WS"


# --- the master's side ---------------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--sse-doctor-json", metavar="PATH", default=None,
                        help="Write sse-doctor's load report (JSON) here at the end.")
    parser.add_argument("--sse-doctor-junit", metavar="PATH", default=None,
                        help="Write sse-doctor's JUnit XML here at the end.")
    parser.add_argument("--sse-doctor-html", metavar="PATH", default=None,
                        help="Write sse-doctor's HTML report here at the end.")


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any]) -> None:
    final = _LOCAL.final()
    if final is not None:
        data["sse_doctor"] = {"final": final, "samples": _LOCAL.samples}
        _LOCAL.samples = []


@events.worker_report.add_listener
def _worker_report(client_id: str, data: dict[str, Any]) -> None:
    part = data.get("sse_doctor")
    if not part:
        return
    _MASTER[client_id] = part["final"]
    index = _WORKER_INDEX.setdefault(client_id, len(_WORKER_INDEX))
    for sample in part["samples"]:
        _MERGE.add(index, sample)


@events.quitting.add_listener
def _write_reports(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    opts = environment.parsed_options
    paths = {k: getattr(opts, f"sse_doctor_{k}", None) for k in ("json", "junit", "html")}
    if not any(paths.values()):
        return
    if isinstance(environment.runner, MasterRunner):
        finals = dict(enumerate(_MASTER.values()))
    else:
        for sample in _LOCAL.samples:
            _MERGE.add(0, sample)
        _LOCAL.samples = []
        final = _LOCAL.final()
        finals = {0: final} if final is not None else {}
    write_reports(environment, finals, paths)


def write_reports(environment: Any, finals: dict[int, dict[str, Any]],
                  paths: dict[str, str | None]) -> None:
    """The `sse-doctor load` report from what the Locust processes counted."""
    from datetime import datetime, timezone

    from sse_doctor.checks.load_checks import LOAD_CHECKS, run_load_checks
    from sse_doctor.model import Report, ScenarioResult
    from sse_doctor.redact import Redactor
    from sse_doctor.report import json_report, junit

    classes = environment.user_classes or [SseUser]
    user = classes[0]
    opts = environment.parsed_options
    host = environment.host or user.host or ""
    protocol = "ws" if any(issubclass(c, WebSocketUser) for c in classes) else "sse"
    url = host.rstrip("/") + user.path
    if protocol == "ws" and url.startswith("http"):
        url = "ws" + url[4:]
    parts = urlsplit(url)
    target = LoadTarget(url=url, protocol=protocol, host=parts.hostname or "",
                        port=parts.port or 80, tls=parts.scheme in ("https", "wss"))
    users = int(getattr(opts, "num_users", 0) or 1)
    settings = LoadSettings(streams=users, ramp=float(getattr(opts, "spawn_rate", 1) or 1),
                            duration=float(getattr(opts, "run_time", 0) or 0),
                            workers=max(1, len(finals)), idle_limit=user.idle_limit)
    elapsed = time.perf_counter() - _LOCAL.t0
    obs = _merge_finals(target, settings, max(1, len(finals)), _MERGE, finals, [], False,
                        elapsed)
    obs.loop = "gevent (locust)"
    result = ScenarioResult(name="load", protocol=protocol, url=url,
                            findings=run_load_checks(obs), checks_run=list(LOAD_CHECKS),
                            observation=obs)
    report = Report(command="load", url=url, protocol=protocol,
                    started_at=datetime.now(timezone.utc), duration_s=elapsed, results=[result])
    red = Redactor()
    red.add_url(url)
    for k, v in user.headers.items():
        red.add_header(k, v)
    if paths.get("json"):
        _write(paths["json"], json_report.dumps(report, red) + "\n")
    if paths.get("junit"):
        _write(paths["junit"], junit.render(report, "error", red))
    if paths.get("html"):
        from sse_doctor.report import html

        _write(paths["html"], html.render(report, red, "error"))


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
