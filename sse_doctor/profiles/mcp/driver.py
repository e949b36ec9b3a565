"""The imperative shell of the MCP profile: sends what the session (sans-I/O) asks for with
httpx, reads each answer within its deadline and bounds, and gives it back as a Reply.

Times are milliseconds since the first request of the session. Every wait has a deadline:
a request's head and its response by --timeout, the GET stream by the window (--duration).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Callable

import httpx

from sse_doctor.model import MAX_BODY_EXCERPT, Close, ProbeOptions, SseObservation
from sse_doctor.profiles.mcp.protocol import McpRecord, McpSession, Reply, Request, SseItem
from sse_doctor.sse import transport
from sse_doctor.sse.observe import SseRecorder, observe_sse
from sse_doctor.sse.parser import Event, SSEParser
from sse_doctor.target import Target

MAX_BODY = 1 << 20  # a JSON answer is read up to 1 MiB
MAX_ITEMS = 200  # SSE events kept per POST answer (all are parsed)
RESUME_MAX_S = 5.0  # a resume read waits at most this long for the replayed events
LEGACY_OPEN_S = 10.0  # the old transport's first event (`endpoint`) comes at once, or never
# The exchange the report's connection shows when no stream was held: the era's first request
# (a fallback's initialize replaces the discover before it).
FIRST_STEPS = ("server/discover", "initialize")


def merged_headers(protocol: list[tuple[str, str]], user: list[tuple[str, str]]) \
        -> list[tuple[str, str]]:
    """The protocol's headers, except where the user gave the same header (-H wins: a user
    may send a proxy's Host, or test what a wrong Accept does)."""
    given = {k.lower() for k, _ in user}
    return [(k, v) for k, v in protocol if k.lower() not in given] + list(user)


@dataclasses.dataclass
class McpRun:
    record: McpRecord
    init_observation: SseObservation | None
    duration_ms: float


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def ms(self, t: float | None = None) -> float:
        return ((time.perf_counter() if t is None else t) - self.t0) * 1000


class Driver:
    def __init__(self, target: Target, opts: ProbeOptions, client: httpx.AsyncClient) -> None:
        self.target = target
        self.opts = opts
        self.client = client
        self.clock = _Clock()
        self.window_end = 0.0  # perf_counter when the held stream ends
        self.legacy: _LegacyStream | None = None
        self.init_observation: SseObservation | None = None

    # --- requests ---------------------------------------------------------------------------
    def _request(self, req: Request, extra: list[tuple[str, str]] | None = None,
                 trace: Callable | None = None) -> httpx.Request:
        headers = merged_headers(req.headers + (extra or []), self.target.headers)
        ext = {"trace": trace} if trace is not None else {}
        return self.client.build_request(req.method, req.url, headers=headers,
                                         content=req.body, extensions=ext)

    async def _open(self, req: Request, reply: Reply) -> httpx.Response | None:
        """Send; the response with its head read, or None with the reply saying why."""
        done: set[str] = set()

        async def trace(name: str, info: dict) -> None:
            if name.endswith(".complete"):
                done.add(name.rsplit(".", 2)[-2])

        t_send = time.perf_counter()
        reply.t_ms = self.clock.ms(t_send)
        try:
            request = self._request(req, trace=trace)
        except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
            # A URL or header the server handed us (an endpoint event, a session id) that
            # cannot even be sent.
            reply.error = f"the request could not be built: {exc}"
            return None
        try:
            response = await asyncio.wait_for(self.client.send(request, stream=True),
                                              self.target.timeout)
        except asyncio.TimeoutError:
            reply.error = transport.timeout_reason(done, self.target.timeout,
                                                   req.url.startswith("https"))
            reply.unreachable = "connect_tcp" not in done
            return None
        except (httpx.ConnectError, httpx.ConnectTimeout, ssl.SSLError) as exc:
            reply.error = transport.describe_connect_error(exc)
            reply.unreachable = True
            return None
        except (httpx.HTTPError, OSError) as exc:
            reply.error = "the connection closed without a response: " + \
                transport.describe_connect_error(exc)
            reply.unreachable = "connect_tcp" not in done
            return None
        reply.status = response.status_code
        reply.headers = list(response.headers.multi_items())
        reply.http_version = response.http_version
        reply.head_ms = self.clock.ms()
        return response

    async def _read(self, response: httpx.Response, reply: Reply, deadline: float,
                    until: Callable[[SseItem], bool] | None = None,
                    expect_ids: tuple[str, ...] = ()) -> None:
        """Read the body into the reply until it ends, the deadline, or (SSE) the core says
        the answer is complete (`until`) / every expected event id arrived."""
        parser = SSEParser() if reply.is_sse else None
        body = bytearray()
        waiting = set(expect_ids)
        t0 = self.clock.t0

        async def pump() -> str:
            async for chunk in response.aiter_bytes():
                now = time.perf_counter()
                if parser is None:
                    body.extend(chunk[: MAX_BODY - len(body)])
                    if len(body) >= MAX_BODY:
                        return "client"
                    continue
                for item in parser.feed(chunk, (now - t0) * 1000):
                    if type(item) is not Event:
                        continue
                    sse_item = SseItem(item.t, item.type, item.data, item.id, item.retry)
                    if len(reply.events) < MAX_ITEMS:
                        reply.events.append(sse_item)
                    if until is not None and until(sse_item):
                        return "response"
                    waiting.discard(item.id)
                    if expect_ids and not waiting:
                        return "response"
            return "server"

        try:
            reply.ended = await asyncio.wait_for(pump(), max(0.0, deadline - time.perf_counter()))
        except asyncio.TimeoutError:
            reply.ended = "deadline"
        except (httpx.HTTPError, OSError) as exc:
            reply.ended = "transport"
            reply.error = transport.describe_connect_error(exc)
        finally:
            try:
                await asyncio.wait_for(response.aclose(), 2.0)
            except (asyncio.TimeoutError, httpx.HTTPError, OSError):
                pass
        reply.body = bytes(body)

    # --- one exchange per read mode -------------------------------------------------------------
    async def execute(self, req: Request) -> Reply:
        reply = await self._execute(req)
        reply.end_ms = self.clock.ms()
        # Session ids (also a throwaway one on an error) are shown only shortened, anywhere.
        for k, v in reply.headers:
            if k.lower() == "mcp-session-id":
                self.target.redactor.add_shortened(v)
        return reply

    async def _execute(self, req: Request) -> Reply:
        if req.read == "hold":
            return await self._hold(req)
        if req.read.startswith("legacy-"):
            return await self._legacy(req)
        # The whole answer (head and body) within --timeout of sending: a session of a few
        # requests stays within the plan's budget (McpProfile.timeouts).
        if req.delay_s > 0:
            await asyncio.sleep(req.delay_s)  # the server's `retry`, bounded by the core
        sent = time.perf_counter()
        reply = Reply(status=None)
        response = await self._open(req, reply)
        if response is None:
            if req.step in FIRST_STEPS:
                self.init_observation = _observation_of(req, reply, self.clock.ms())
            return reply
        if req.read == "resume":
            deadline = sent + min(self.target.timeout, RESUME_MAX_S)
        else:
            deadline = sent + self.target.timeout
        await self._read(response, reply, deadline,
                         until=req.until if req.read in ("rpc", "resume") else None,
                         expect_ids=req.expect_ids)
        if req.step in FIRST_STEPS:
            self.init_observation = _observation_of(req, reply, self.clock.ms())
        return reply

    async def _hold(self, req: Request) -> Reply:
        """A server stream (the GET stream, or subscriptions/listen's POST answer), observed
        like a plain probe's stream for the window."""
        headers = merged_headers(req.headers, self.target.headers)
        get = dataclasses.replace(self.target, method=req.method, body=req.body,
                                  body_is_json=req.body is not None, headers=headers)
        reply = Reply(status=None, t_ms=self.clock.ms())
        obs = await observe_sse(get, self.opts, client=self.client)
        reply.observation = obs
        if obs.unreachable is not None:
            reply.error = obs.unreachable
            return reply
        reply.status, reply.headers, reply.http_version = obs.status, obs.headers, obs.http_version
        reply.body = obs.body_excerpt
        reply.events = [SseItem(reply.t_ms + e.t_ms, e.type, e.data or "", e.id,
                                getattr(e, "retry", None)) for e in obs.events]
        return reply

    async def _legacy(self, req: Request) -> Reply:
        if req.read == "legacy-open":
            headers = merged_headers(req.headers, self.target.headers)
            get = dataclasses.replace(self.target, method="GET", body=None, body_is_json=False,
                                      headers=headers)
            self.legacy = _LegacyStream(get, self.opts, self.client, self.clock)
            return await self.legacy.open(min(self.target.timeout, LEGACY_OPEN_S))
        assert self.legacy is not None
        if req.read == "legacy-hold":
            return await self.legacy.hold()
        mark = self.legacy.mark()
        sent = time.perf_counter()
        reply = Reply(status=None)
        response = await self._open(req, reply)
        if response is None:
            return reply
        post_status = reply.status
        await self._read(response, reply, sent + self.target.timeout)
        reply.post_status = post_status
        if post_status is not None and 200 <= post_status < 300 and req.until is not None:
            reply.events = await self.legacy.wait_for_response(
                mark, req.until, sent + self.target.timeout)
            if not any(req.until(e) for e in reply.events):
                reply.error = self.legacy.end_reason() or \
                    f"nothing within {self.target.timeout:g} s"
        if req.step in FIRST_STEPS:
            self.init_observation = self.legacy.obs
        return reply

    async def aclose(self) -> None:
        if self.legacy is not None:
            await self.legacy.aclose()


class _NotifyingRecorder(SseRecorder):
    """The probe's recorder, waking the legacy driver when events arrive."""

    def __init__(self, *args: object, arrived: asyncio.Event) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.arrived = arrived

    def chunk(self, t: float, data: bytes) -> bool:
        more = super().chunk(t, data)
        self.arrived.set()
        return more


class _LegacyStream:
    """The 2024-11-05 transport's GET stream: open for the whole window in the background,
    where the POSTed requests' responses arrive."""

    def __init__(self, target: Target, opts: ProbeOptions, client: httpx.AsyncClient,
                 clock: _Clock) -> None:
        self.target, self.opts, self.client, self.clock = target, opts, client, clock
        self.obs = SseObservation(url=target.url, method="GET")
        self.obs.window_s = opts.duration
        self.arrived = asyncio.Event()
        self.t_send = time.perf_counter()
        self.rec = _NotifyingRecorder(self.obs, self.t_send, opts, arrived=self.arrived)
        self.task: asyncio.Task | None = None
        self.end: transport.End | None = None
        self.error: str | None = None

    async def _run(self) -> None:
        try:
            self.end = await transport.stream(self.target, self.rec, self.t_send,
                                              self.opts.duration, self.client)
        except transport.Unreachable as exc:
            self.error = str(exc)
            self.obs.unreachable = str(exc)
        finally:
            self.arrived.set()
        if self.end is not None:
            if self.end.by == "server":
                self.rec.finish(self.end.t)
            self.obs.end_ms = (self.end.t - self.t_send) * 1000
            self.obs.close = Close(self.end.by, self.obs.end_ms, None, self.end.reason)

    def _items(self, start: int) -> list[SseItem]:
        base = self.clock.ms(self.t_send)
        return [SseItem(base + e.t_ms, e.type, e.data or "", e.id)
                for e in self.obs.events[start:start + MAX_ITEMS]]

    def mark(self) -> int:
        return len(self.obs.events)

    def end_reason(self) -> str | None:
        if self.error:
            return self.error
        if self.task is not None and self.task.done() and self.end is not None:
            return f"the stream ended ({self.end.reason})"
        return None

    async def _wait(self, deadline: float, ready: Callable[[], bool]) -> None:
        while not ready() and not (self.task is not None and self.task.done()):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self.arrived.clear()
            if ready():
                return
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    async def open(self, timeout: float) -> Reply:
        reply = Reply(status=None, t_ms=self.clock.ms(self.t_send))
        self.task = asyncio.ensure_future(self._run())
        await self._wait(time.perf_counter() + timeout, lambda: self.obs.n_events > 0)
        if self.obs.status is None:
            reply.error = self.error or f"no response head within {timeout:g} s"
            reply.unreachable = self.obs.unreachable is not None
            return reply
        reply.status, reply.headers = self.obs.status, self.obs.headers
        reply.body = self.obs.body_excerpt[:MAX_BODY_EXCERPT]
        reply.events = self._items(0)
        return reply

    async def wait_for_response(self, mark: int, until: Callable[[SseItem], bool],
                                deadline: float) -> list[SseItem]:
        scanned = [mark]  # each event is read once, however often the stream wakes us

        def answered() -> bool:
            events = self.obs.events
            new, scanned[0] = events[scanned[0]:], len(events)
            return any(until(SseItem(e.t_ms, e.type, e.data or "", e.id)) for e in new)

        await self._wait(deadline, answered)
        return self._items(mark)

    async def hold(self) -> Reply:
        reply = Reply(status=self.obs.status, t_ms=self.clock.ms(), headers=self.obs.headers)
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task),
                                       self.opts.duration + self.target.timeout + 2.0)
            except asyncio.TimeoutError:
                pass
        reply.observation = self.obs
        reply.events = self._items(0)
        return reply

    async def aclose(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            try:
                await asyncio.wait_for(self.task, 2.0)
            except (asyncio.CancelledError, asyncio.TimeoutError, Exception):
                pass


def _observation_of(req: Request, reply: Reply, now_ms: float) -> SseObservation:
    """The initialize exchange as an observation: what the report's connection shows when no
    stream was held."""
    obs = SseObservation(url=req.url, method=req.method)
    # Never zero: renderers scale their timelines by it.
    obs.end_ms = max(now_ms - reply.t_ms, 0.1)
    if reply.status is None:
        obs.unreachable = reply.error if reply.unreachable else None
        obs.close = Close("transport", obs.end_ms, None, reply.error)
        return obs
    obs.status, obs.headers, obs.http_version = reply.status, reply.headers, reply.http_version
    obs.headers_ms = None if reply.head_ms is None else reply.head_ms - reply.t_ms
    obs.body_excerpt = reply.body[:MAX_BODY_EXCERPT]
    obs.n_events = len(reply.events)
    obs.close = Close("server" if reply.ended in ("server", "") else "client", obs.end_ms,
                      None, "the answer ended" if reply.ended in ("server", "")
                      else "read up to the JSON-RPC response")
    return obs


async def run_session(target: Target, opts: ProbeOptions, version: str = "auto",
                      call: str | None = None, call_args: dict | None = None,
                      input_responses: dict | None = None) -> McpRun:
    """Drive one whole MCP conversation against the target; what it found."""
    session = McpSession(target.url, version, call, call_args, input_responses)
    client = transport.make_client(target)
    driver = Driver(target, opts, client)
    try:
        req = session.start()
        while req is not None:
            reply = await driver.execute(req)
            req = session.receive(reply)
    finally:
        await driver.aclose()
        await client.aclose()
    session.record.init_observation = driver.init_observation
    return McpRun(session.record, driver.init_observation, driver.clock.ms())
