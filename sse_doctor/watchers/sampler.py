"""The shell: every watch sampled before, during and after an experiment, on a deadline.
Each distinct URL is fetched once per reading and all port watches share one socket
listing; the values are read by the kind's module (prometheus, jsondoc, sockets)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import psutil

from sse_doctor.watchers import jsondoc, prometheus
from sse_doctor.watchers.series import Series
from sse_doctor.watchers.sockets import PortCounts, count_port
from sse_doctor.watchers.spec import ReadError, WatchError, WatchSpec

MAX_BODY = 16 << 20  # a watch URL's answer; bigger is an error, not a memory problem
# A settle() called late, or with a zero grace, still gets this long for one fresh reading
# (or 2.5 times what the slowest source's last reading took, up to the timeout).
SETTLE_FLOOR_S = 0.5
# Listing sockets is CPU work in this process (psutil parses /proc/net/tcp in Python: about
# 0.2-0.4 s for 10,000 sockets). Port readings are spaced so they take at most this share of
# the time, which keeps a storm's own event loop responsive; watch URLs are I/O waits.
PORT_DUTY = 0.25


_ACCEPT = {"metric": prometheus.ACCEPT, "json": jsondoc.ACCEPT}

# --- the shell: sampling on a deadline -------------------------------------------------------


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` seconds.

    Not wait_for inside suppress(TimeoutError): on Python 3.11 a cancellation that lands as
    the timeout fires comes out of wait_for as TimeoutError, and suppressing that would
    swallow the cancellation (the sampling loop then never stops)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


def _fetch_error(exc: BaseException, budget: float) -> str:
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException)):
        return f"no answer within {budget:g} s"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or type(exc).__name__
        return f"cannot connect ({reason})"
    return f"request failed ({type(exc).__name__}: {exc})"


@dataclass
class _Watch:
    spec: WatchSpec
    series: list[Series]  # one for metric/json, two for port (ESTABLISHED, CLOSE_WAIT)
    labels: dict[str, str] = field(default_factory=dict)
    name: str = ""


@dataclass
class _Source:
    key: str  # the URL, or "ports"
    watches: list[_Watch]
    kick: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None
    took: float = 0.0  # seconds the last completed reading took
    stopping: bool = False  # set by _stop_tasks, checked by _loop each turn


class Watchers:
    """Samples every watch before (``baseline``), during (``start``) and after
    (``mark_end`` + ``settle``) an experiment. Each distinct URL is fetched once per reading
    and all port watches share one socket listing; each source samples on its own, so a slow
    watch URL does not starve the others."""

    def __init__(self, specs: list[WatchSpec], t0: float, *, timeout: float = 5.0,
                 interval: float = 0.2, verify: Any = True) -> None:
        self.specs = list(specs)
        self.t0 = t0
        self.timeout = timeout
        self.interval = interval
        self._verify = verify
        self.series: list[Series] = []
        self._sources: dict[str, _Source] = {}
        for spec in self.specs:
            if spec.kind == "port":
                src = f"port {spec.port}"
                series = [Series(f"ESTABLISHED on :{spec.port}", "port", src),
                          Series(f"CLOSE_WAIT on :{spec.port}", "port", src)]
                key = "ports"
            else:
                series = [Series(spec.selector or "(whole document)", spec.kind,
                                 spec.url or "")]
                key = spec.url or ""
            watch = _Watch(spec, series)
            if spec.kind == "metric":
                watch.name, watch.labels = prometheus.parse_selector(spec.selector)
            self.series.extend(series)
            self._sources.setdefault(key, _Source(key, [])).watches.append(watch)
        self._client: httpx.AsyncClient | None = None
        self._baselined = False
        self._deadline: float | None = None  # perf_counter; settle() stops sampling there
        self._end: float | None = None
        self._changed: asyncio.Event | None = None
        self._closed = False

    # -- context manager ---------------------------------------------------------------------

    async def __aenter__(self) -> Watchers:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    # -- time --------------------------------------------------------------------------------

    def _ms(self, t: float) -> float:
        return (t - self.t0) * 1000


    # -- reading -----------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: a watch URL is usually on the server's own host; a proxy from
            # the environment would watch something else, or fail.
            self._client = httpx.AsyncClient(
                trust_env=False, verify=self._verify, follow_redirects=True,
                timeout=httpx.Timeout(self.timeout),
                headers={"User-Agent": "sse-doctor-watch"},
            )
        return self._client

    async def _get(self, url: str, accept: str) -> tuple[str, str]:
        client = self._http()
        async with client.stream("GET", url, headers={"Accept": accept}) as resp:
            if resp.status_code >= 400:
                raise ReadError(f"HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise ReadError(f"the answer is larger than {MAX_BODY >> 20} MiB")
            try:
                text = bytes(body).decode(resp.charset_encoding or "utf-8", errors="replace")
            except LookupError:  # a charset Python does not know
                text = bytes(body).decode("utf-8", errors="replace")
            return text, resp.headers.get("content-type", "")

    async def _read_url(self, src: _Source, *, strict: bool
                        ) -> list[tuple[_Watch, float | None, str | None, int]]:
        """One fetch of a URL, then every watch on it: (watch, value, error, matched)."""
        kinds = {w.spec.kind for w in src.watches}
        accept = _ACCEPT["metric"] if kinds == {"metric"} else (
            _ACCEPT["json"] if kinds == {"json"} else "*/*")
        # settle() cancels a reading still running at the grace deadline, so nothing waits
        # past it; a reading cut off that way is not recorded (the server did not fail it).
        budget = self.timeout
        try:
            text, ctype = await asyncio.wait_for(self._get(src.key, accept), budget)
        except ReadError as exc:
            return [(w, None, str(exc), 0) for w in src.watches]
        except (asyncio.TimeoutError, httpx.HTTPError, OSError) as exc:
            reason = _fetch_error(exc, budget)
            return [(w, None, reason, 0) for w in src.watches]
        out: list[tuple[_Watch, float | None, str | None, int]] = []
        families: list[Any] | None = None
        doc: Any = None
        doc_error: str | None = None
        if "json" in kinds:
            try:
                doc = json.loads(text)
            except ValueError as exc:
                msg = getattr(exc, "msg", str(exc))
                doc_error = f"the answer is not JSON ({msg}; starts with {text[:30]!r})"
        for w in src.watches:
            try:
                if w.spec.kind == "metric":
                    if families is None:
                        families = await asyncio.to_thread(prometheus.parse_exposition, text, ctype)
                    pick = prometheus.select_metric(families, w.name, w.labels, strict=strict)
                    out.append((w, pick.value, None, pick.matched))
                else:
                    if doc_error is not None:
                        raise ReadError(doc_error)
                    out.append((w, jsondoc.json_value(doc, w.spec.selector), None, 1))
            except ReadError as exc:
                out.append((w, None, str(exc), 0))
        return out

    async def _read_ports(self, src: _Source, *, baseline: bool
                          ) -> list[tuple[_Watch, PortCounts | None, str | None]]:
        budget = self.timeout
        try:
            # In a thread: listing thousands of sockets takes long enough to stall the loop.
            # "tcp" (v4 and v6) rather than "inet": the states counted are TCP's, and
            # skipping UDP saves parsing.
            conns = await asyncio.wait_for(
                asyncio.to_thread(psutil.net_connections, "tcp"), budget)
        except psutil.AccessDenied:
            reason = ("listing this machine's sockets needs more privileges here "
                      "(psutil: access denied)")
            return [(w, None, reason) for w in src.watches]
        except asyncio.TimeoutError:
            return [(w, None, f"listing sockets took longer than {budget:g} s")
                    for w in src.watches]
        out: list[tuple[_Watch, PortCounts | None, str | None]] = []
        for w in src.watches:
            port = w.spec.port or 0
            counts = count_port(conns, port)
            if not counts.listening:
                reason = (f"nothing listens on port {port} on this machine" if baseline
                          else f"nothing listens on port {port} any more")
                out.append((w, None, reason))
            else:
                out.append((w, counts, None))
        return out

    async def _sample(self, src: _Source, *, baseline: bool = False) -> list[tuple[_Watch, str]]:
        """Read one source once and record it; returns the failures as (watch, reason)."""
        started = time.perf_counter()
        t_ms = self._ms(started)
        failures: list[tuple[_Watch, str]] = []
        if src.key == "ports":
            for w, counts, err in await self._read_ports(src, baseline=baseline):
                if counts is None:
                    failures.append((w, err or "unreadable"))
                    values: list[float | None] = [None, None]
                else:
                    values = [float(counts.established), float(counts.close_wait)]
                self._record(w, t_ms, values, err, baseline)
        else:
            for w, value, err, matched in await self._read_url(src, strict=baseline):
                if value is None:
                    failures.append((w, err or "unreadable"))
                elif baseline and matched > 1:
                    w.series[0].name = f"{w.spec.selector} (sum of {matched} samples)"
                self._record(w, t_ms, [value], err, baseline)
        src.took = time.perf_counter() - started
        if self._changed is not None:
            self._changed.set()
        return failures

    @staticmethod
    def _record(w: _Watch, t_ms: float, values: list[float | None], err: str | None,
                baseline: bool) -> None:
        for s, v in zip(w.series, values):
            if baseline:
                s.baseline = v
            s.add(t_ms, v, err)

    # -- the experiment's phases -------------------------------------------------------------

    async def baseline(self) -> None:
        """Read every watch once; any that cannot be read raises WatchError (one line)."""
        if self._closed:
            raise RuntimeError("these Watchers are closed")
        results = await asyncio.gather(
            *(self._sample(src, baseline=True) for src in self._sources.values()))
        failed = {id(w): reason for failures in results for w, reason in failures}
        for src in self._sources.values():
            for w in src.watches:
                if id(w) in failed:
                    raise WatchError(f"{w.spec.option()}: {failed[id(w)]}")
        self._baselined = True

    async def start(self) -> None:
        """Sample every ``interval`` in the background until settle() or aclose()."""
        if self._closed:
            raise RuntimeError("these Watchers are closed")
        if not self._baselined:
            await self.baseline()
        if self._changed is None:
            self._changed = asyncio.Event()
        for src in self._sources.values():
            if src.task is None or src.task.done():
                src.stopping = False
                src.kick = asyncio.Event()
                src.task = asyncio.create_task(self._loop(src), name=f"watch {src.key}")

    async def _loop(self, src: _Source) -> None:
        assert src.kick is not None
        # Ends on cancel, or, should Python 3.11's wait_for turn that cancel into a caught
        # TimeoutError, on the stop flag at the next turn: sampling never outlives settle().
        while not src.stopping:
            started = time.perf_counter()
            src.kick.clear()
            try:
                await self._sample(src)
            except Exception as exc:  # noqa: BLE001 - a reading must not end the sampling
                t_ms = self._ms(started)
                for w in src.watches:
                    self._record(w, t_ms, [None] * len(w.series),
                                 f"reading failed ({type(exc).__name__}: {exc})", False)
            spacing = self.interval
            if src.key == "ports":
                spacing = max(spacing, (time.perf_counter() - started) / PORT_DUTY)
            delay = started + spacing - time.perf_counter()
            if delay > 0:
                await _wait_event(src.kick, delay)

    def mark_end(self) -> None:
        """The experiment's actions are over: settle time counts from now."""
        self._end = time.perf_counter()
        end_ms = self._ms(self._end)
        for s in self.series:
            s.mark_end(end_ms)

    def _all_back(self) -> bool:
        return all(s.confirmed_back() for s in self.series)

    async def settle(self, grace_s: float) -> None:
        """Sample until every series is back at or below its baseline (confirmed by
        CONFIRM_READINGS readings in a row) or ``grace_s`` has passed since mark_end; then
        stop sampling. Returns by the grace deadline (or a short floor after the call,
        whichever is later: SETTLE_FLOOR_S, or 2.5 times the slowest source's last reading,
        at most ``timeout``) whatever the watch URLs do."""
        now = time.perf_counter()
        if self._end is None:
            self.mark_end()
        assert self._end is not None
        # The floor lets a slow but working source (a socket listing with thousands of
        # sockets) finish one reading after the end; a hung one is still cut at the deadline.
        slowest = max((src.took for src in self._sources.values()), default=0.0)
        floor = max(SETTLE_FLOOR_S, min(2.5 * slowest, self.timeout))
        self._deadline = max(self._end + max(grace_s, 0.0), now + floor)
        try:
            if not self.series:
                return
            await self.start()
            assert self._changed is not None
            for src in self._sources.values():
                if src.kick is not None:
                    src.kick.set()  # a fresh reading now rather than after the interval
            while True:
                self._changed.clear()
                if self._all_back():
                    return
                remaining = self._deadline - time.perf_counter()
                if remaining <= 0:
                    return
                await _wait_event(self._changed, remaining)
        finally:
            await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        tasks = [src.task for src in self._sources.values() if src.task is not None]
        for src in self._sources.values():
            src.stopping = True
        for task in tasks:
            task.cancel()
        # return_exceptions: the tasks' own CancelledError is expected; ours still propagates.
        await asyncio.gather(*tasks, return_exceptions=True)
        for src in self._sources.values():
            src.task = None

    async def aclose(self) -> None:
        """Stop sampling and close the HTTP client; safe to call twice or after errors."""
        self._closed = True
        try:
            await self._stop_tasks()
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()
