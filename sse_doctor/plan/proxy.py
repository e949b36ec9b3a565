"""`proxy` as a Plan: option values validated, the listen address checked free and mitmdump
found when planned (a suite says so before anything runs); when run, the engine
(`proxy/run.py`, blocking, in a thread) proxies until --duration passes, the plan's session
is stopped (Ctrl-C, SIGTERM, a suite's deadline) or mitmdump exits, and the client checks
judge what passed through (`conclude/proxy.py`).

A stop is the proxy's normal end (`Plan.stop_is_end`): the report is complete and the exit
code is that of its findings."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sse_doctor import feed
from sse_doctor.conclude.proxy import proxy_results, unreachable_result
from sse_doctor.errors import UsageError
from sse_doctor.model import Report, Result
from sse_doctor.options import validate
from sse_doctor.plan.base import Plan
from sse_doctor.proxy import mitm_env
from sse_doctor.proxy.run import (
    OVERHEAD_S,
    STOP_TIMEOUT_S,
    UPSTREAM_CONNECT_TIMEOUT_S,
    ProxyRun,
    ProxySettings,
    UpstreamUnreachable,
    check_listen,
    check_upstream,
)
from sse_doctor.proxy.run import run as run_proxy
from sse_doctor.proxy.streams import ClientStreams, parse_client_key
from sse_doctor.redact import Redactor

CHECK_EVERY_S = 1.0  # the live checks cost O(n log n) in the requests seen


def settings(listen: str, upstream: str, client_key: str,
             duration: float | None) -> ProxySettings:
    """Validated options (UsageError, one line, on anything wrong)."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {listen!r}: use HOST:PORT, e.g. 127.0.0.1:8081")
    try:
        parts = urlsplit(upstream)
        up_port = parts.port
    except ValueError as exc:
        raise UsageError(f"--upstream {upstream!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--upstream {upstream!r}: use http://HOST[:PORT] or https://... "
                         "(WebSockets to it pass through as they are)")
    if parts.path not in ("", "/") or parts.query:
        raise UsageError(f"--upstream {upstream!r}: give the server's origin only; request "
                         "paths pass through as the client sends them")
    try:
        parse_client_key(client_key)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if duration is not None and not duration > 0:
        raise UsageError("--duration must be more than 0 seconds")
    netloc = parts.hostname if up_port is None else f"{parts.hostname}:{up_port}"
    if ":" in (parts.hostname or "") and up_port is not None:
        netloc = f"[{parts.hostname}]:{up_port}"
    return ProxySettings(host, int(port), f"{parts.scheme}://{netloc}", client_key, duration)


@dataclass
class ProxyState:
    """The plan's settings and what its run saw so far: the command line writes --har-out
    and says why mitmdump stopped from it, a cancelled plan salvages it."""

    settings: ProxySettings
    mitmdump: str
    redactor: Redactor = field(default_factory=Redactor)
    streams: ClientStreams = field(default_factory=ClientStreams)
    seen: ProxyRun | None = None
    view: Any = None  # proxy/live_table.LiveView, when one shows
    checked: float = 0.0  # monotonic time of the last live check

    @property
    def where(self) -> str:
        return f"{self.settings.listen} → {self.settings.upstream}"

    def results(self) -> list[Result]:
        return proxy_results(self.streams, self.where)

    def tick(self, seen: ProxyRun, fresh: list[tuple[str, object]]) -> None:
        """The engine's call (in its thread) a few times a second and once at the end:
        secrets learnt first, so nothing shows unredacted, then the live checks at most once
        a second (always at the end), then the live view."""
        self.seen = seen
        learn_secrets(self.redactor, seen)
        if seen.stopped_by or time.monotonic() - self.checked >= CHECK_EVERY_S:
            self.checked = time.monotonic()
            seen.findings = self.streams.findings()
            fresh = fresh + [("finding", pf) for pf in self.streams.new_findings(seen.findings)]
        if self.view is not None:
            self.view.tick(seen, fresh)

    def observe(self, stop: threading.Event) -> str | None:
        """The whole run, blocking (in a thread): the upstream checked, then the engine until
        the window ends or `stop` is set. The upstream's unreachable line, or None."""
        try:
            check_upstream(self.settings)
        except UpstreamUnreachable as exc:
            return str(exc)
        self.streams = ClientStreams()
        try:
            self.seen = run_proxy(self.settings, self.mitmdump, stop, self.tick, self.streams)
        finally:
            if self.view is not None:
                self.view.close()
        learn_secrets(self.redactor, self.seen)
        return None


def learn_secrets(red: Redactor, seen: ProxyRun) -> None:
    """Every credential that passed through (request and response headers, secret query
    parameters) is registered with the redactor as it arrives."""
    for rec in seen.streams.take_changed():
        red.add_url(rec.url)
        for name, value in rec.request_headers + rec.response_headers:
            red.add_header(name, value)


class ProxyPlan(Plan):
    """A Plan whose report spans the proxy's window (from listening to its end), not the
    mitmdump start before it."""

    def report(self, results: list[Result], started_at: datetime, duration_s: float,
               interrupted: bool = False) -> Report:
        seen = self.options.seen if isinstance(self.options, ProxyState) else None
        if seen is not None and seen.ended >= seen.started > 0:
            duration_s = seen.ended - seen.started
        return super().report(results, started_at, duration_s, interrupted)


def plan(values: dict[str, Any]) -> Plan:
    """`proxy` option values -> a Plan (UsageError on bad values, a busy listen address or
    no mitmdump)."""
    validate("proxy", values)
    p = settings(values["listen"], values["upstream"], values["client_key"],
                 values["duration"])
    check_listen(p)
    state = ProxyState(p, mitm_env.mitmdump())
    session = feed.Feed()

    async def run(name: str) -> list[Result]:
        stop = threading.Event()
        session.on_stop(stop.set)
        # shielded: a cancelled caller stops the engine, and its thread still stops mitmdump
        running = asyncio.ensure_future(asyncio.to_thread(state.observe, stop))
        try:
            unreachable = await asyncio.shield(running)
        except asyncio.CancelledError:
            stop.set()
            raise
        if unreachable is not None:
            return [unreachable_result(p.upstream, unreachable)]
        return state.results()

    def partial(reason: str) -> list[Result]:
        # cancelled (the stop did not end it within its grace): what passed through so far
        return state.results()

    def set_view(view: Any) -> None:
        state.view = view

    budget = math.inf if p.duration is None else \
        p.duration + UPSTREAM_CONNECT_TIMEOUT_S + OVERHEAD_S
    return ProxyPlan("proxy", None, budget, run, partial=partial, session=session,
                     # mitmdump's stop (SIGTERM, then SIGKILL) and the feed's last events
                     grace_s=2 * STOP_TIMEOUT_S + 5.0, multi=True, url=p.upstream,
                     redactor=state.redactor, set_view=set_view, options=state,
                     stop_is_end=True,
                     empty_note="proxy: no SSE or WebSocket requests passed through")
