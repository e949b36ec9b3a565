"""The exporter's HTTP endpoints, as the blackbox exporter serves them (starlette under uvicorn).

- GET /probe?target=URL&module=NAME[&debug=true]: one probe, answered with its metrics (text
  format, or OpenMetrics when the Accept header asks), or with the human report (debug).
- GET /metrics: the exporter's own metrics (probes run and refused, in flight, reloads).
- GET /-/healthy; POST /-/reload (re-read the configuration; the old one stays if it is bad).

At most `max_concurrent` probes run at once; one more is answered 503 at once rather than
queued, so a scrape never waits past its own timeout for a slot.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sse_doctor import api
from sse_doctor.exporter.config import ConfigInvalid, ExporterConfig, Module, load_config
from sse_doctor.exporter.deadline import HEADER, DeadlineTooShort, probe_deadline
from sse_doctor.exporter.metrics import Judgement, exposition, families, registry_of
from sse_doctor.exporter.probe import ProbeRefused, ProbeRun, probe_module
from sse_doctor.exporter.targets import TargetRefused, allowed

# data: masks a target's credentials in a refusal (no check ran, so no report knows them) and
# the sensitive headers of a module's configuration on the debug page
from sse_doctor.redact import Redactor

log = logging.getLogger("sse_doctor.exporter")
DEFAULT_MAX_CONCURRENT = 8


class ExporterState:
    """What the endpoints share: the configuration (replaced whole on reload), the probe
    slots and the exporter's own metrics."""

    def __init__(self, config: ExporterConfig, *, allow_any_target: bool = False,
                 max_concurrent: int = DEFAULT_MAX_CONCURRENT, timeout_offset: float = 0.5,
                 env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.allow_any_target = allow_any_target
        self.max_concurrent = max_concurrent
        self.timeout_offset = timeout_offset
        self.env = env
        self.in_flight = 0
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.probes = Counter("sse_doctor_exporter_probes", "Probes run, by module and result "
                              "(success, failure)", ["module", "result"], registry=self.registry)
        self.refused = Counter("sse_doctor_exporter_probes_refused", "Probe requests refused, "
                               "by reason (busy, target-not-allowed, bad-target, "
                               "unknown-module, bad-request, module-error)", ["reason"],
                               registry=self.registry)
        self.gauge_in_flight = Gauge("sse_doctor_exporter_probes_in_flight",
                                     "Probes running now", registry=self.registry)
        self.limit = Gauge("sse_doctor_exporter_max_concurrent_probes",
                           "Probes allowed at once (more are answered 503)",
                           registry=self.registry)
        self.limit.set(max_concurrent)
        self.reload_ok = Gauge("sse_doctor_exporter_config_last_reload_successful",
                               "1 when the last configuration load succeeded",
                               registry=self.registry)
        self.reload_ok.set(1)

    def reload(self) -> None:
        try:
            self.config = load_config(self.config.path, self.env)
        except ConfigInvalid:
            self.reload_ok.set(0)
            raise
        self.reload_ok.set(1)


def _refuse(state: ExporterState, reason: str, status: int, message: str,
            target: str | None = None) -> Response:
    if target is not None:  # a problem line may quote the target: its secrets stay masked
        red = Redactor()
        red.add_url(target)
        message = red.text(message)
    state.refused.labels(reason).inc()
    log.warning("probe refused (%s): %s", reason, message)
    return PlainTextResponse(message + "\n", status_code=status)


def _debug_page(run: ProbeRun, body: bytes) -> str:
    module = run.module
    lines = [f"{k} = {v!r}" for k, v in module.entry.items() if k != "headers"]
    for k, v in (module.entry.get("headers") or {}).items():
        lines.append(f"headers.{k} = {Redactor().header(k, str(v))!r}")
    lines += [f"targets = {list(module.targets)!r}", f"window = {module.window:g}",
              f"fail_on = {module.fail_on!r}"]
    if module.bearer_env:
        lines.append(f"bearer_env = {module.bearer_env!r}")
    for k, path in module.header_files.items():
        lines.append(f"header_files.{k} = {path!r}")
    page = (f"Probe of {run.report.url} with module {module.name!r}: "
            f"{'succeeded' if run.success else 'failed'} (deadline {run.deadline_s:g} s"
            f"{', reached' if run.cut_short else ''})\n\n"
            + run.text() + "\n\nMetrics that would have been returned:\n"
            + body.decode() + "\n\nModule configuration:\n" + "\n".join(lines) + "\n")
    return run.report.redact(page)


def make_app(state: ExporterState) -> Starlette:
    async def probe(request: Request) -> Response:
        params = request.query_params
        target = params.get("target")
        name = params.get("module")
        if not target:
            return _refuse(state, "bad-request", 400, "Target parameter is missing")
        if not name:
            return _refuse(state, "bad-request", 400, "Module parameter is missing")
        module: Module | None = state.config.modules.get(name)
        if module is None:
            return _refuse(state, "unknown-module", 400, f"Unknown module {name!r}")
        shown = Redactor().url(target)
        try:
            ok = allowed(target, module.targets)
        except TargetRefused as exc:
            return _refuse(state, "bad-target", 400, f"target {shown}: {exc}", target)
        if not ok and not state.allow_any_target:
            return _refuse(state, "target-not-allowed", 403,
                           f"target {shown} is not allowed by module {name!r} (its 'targets' "
                           "patterns; --allow-any-target lifts this)")
        try:
            deadline = probe_deadline(module.window, request.headers.get(HEADER),
                                      state.timeout_offset)
        except DeadlineTooShort as exc:
            return _refuse(state, "bad-request", 400, str(exc))
        if state.in_flight >= state.max_concurrent:
            return _refuse(state, "busy", 503, f"{state.in_flight} probes are running already "
                                               f"(--max-concurrent {state.max_concurrent})")
        state.in_flight += 1
        state.gauge_in_flight.inc()
        try:
            run = await probe_module(state.config.path, module, target, deadline, state.env)
        except ProbeRefused as exc:
            return _refuse(state, "module-error", exc.status, str(exc), target)
        finally:
            state.in_flight -= 1
            state.gauge_in_flight.dec()
        report = run.report_json()
        fams = families(report, Judgement(run.success, run.cut_short))
        state.probes.labels(name, "success" if run.success else "failure").inc()
        log.info("probe module=%s target=%s success=%d verdict=%s duration=%.3fs%s", name,
                 run.report.url, run.success, report["verdict"],
                 run.report.duration_s, " deadline-reached" if run.cut_short else "")
        if params.get("debug", "").lower() == "true":
            body, _ = exposition(registry_of(fams), None)
            return PlainTextResponse(_debug_page(run, body))
        body, content_type = exposition(registry_of(fams), request.headers.get("accept"))
        return Response(body, media_type=None, headers={"Content-Type": content_type})

    async def metrics(request: Request) -> Response:
        body, content_type = exposition(state.registry, request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy\n")

    async def reload(request: Request) -> Response:
        try:
            await asyncio.to_thread(state.reload)
        except ConfigInvalid as exc:
            log.error("reload failed, the previous configuration stays: %s", exc.problems[0])
            return PlainTextResponse("\n".join(exc.problems) + "\n", status_code=500)
        log.info("configuration reloaded: %d modules", len(state.config.modules))
        return PlainTextResponse("OK\n")

    async def index(request: Request) -> Response:
        names = ", ".join(sorted(state.config.modules))
        return PlainTextResponse(
            "sse-doctor exporter\n\n/probe?target=URL&module=NAME[&debug=true]\n/metrics\n"
            f"/-/healthy\n/-/reload (POST)\n\nmodules: {names}\n")

    return Starlette(routes=[
        Route("/", index), Route("/probe", probe), Route("/metrics", metrics),
        Route("/-/healthy", healthy), Route("/-/reload", reload, methods=["POST", "PUT"]),
    ])


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before serving so a taken port is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def serve(state: ExporterState, sock: socket.socket) -> None:
    """Serve until SIGINT or SIGTERM."""
    import uvicorn

    # what every probe needs, imported and built now: done lazily, the first scrapes would
    # spend a fair part of their deadline on it
    api.warm_up()

    config = uvicorn.Config(make_app(state), log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2)
    # uvicorn ends gracefully on SIGINT/SIGTERM, then re-raises the signal: the exit code is
    # 130 or 143, as for every other command stopped by a signal.
    uvicorn.Server(config).run(sockets=[sock])


def log_to_stderr(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


__all__ = ["ExporterState", "make_app", "serve", "bind", "log_to_stderr"]
