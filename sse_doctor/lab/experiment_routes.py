"""Lab routes the experiments (disconnect, duplicates, storm, resume) run against.

Each route models one way a server handles (or mishandles) clients that drop, duplicate,
storm or resume, and keeps per-app state that the experiments watch from outside:
``GET /lab/metrics`` (Prometheus gauges ``lab_open_streams``, ``lab_pending_sessions``,
``lab_temp_files`` and ``lab_subscribers``, one sample per route) and ``GET /lab/state`` (the
same as JSON). A client's identity is ``?user=``, else the ``user`` cookie, else the
``X-User`` header, else "anonymous": the experiments reconnect with the same URL, headers and
cookies.

SSE streams send ``retry: 3000`` first, then ``event: tick`` with ``id: n`` and data
``{"n": n}`` every 0.25 s and a ``: heartbeat`` comment every 1 s, unless a route says
otherwise. The two session routes and the storm routes are written the way the incidents'
servers were: a Starlette ``StreamingResponse`` over an async generator. On a client
disconnect Starlette cancels that generator, so ``CancelledError`` (a ``BaseException``) lands
at whatever ``await`` it is suspended on: an ``except Exception`` block never sees it, and
code outside the ``try`` never gets a ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .sse_routes import (
    EVENT_STREAM,
    HEARTBEAT,
    HEARTBEAT_FIRST,
    TICK,
    EventWriter,
    LabStream,
    ShutdownSignal,
    sse_headers,
)

Body = AsyncIterator[bytes]

SESSION_TICKS = 40  # the session routes stream 10 s, then end (and clean up)
RESUME_TICK = 0.1  # seconds between events of the resume routes
RESUME_GAP = 5  # resume-gap continues at Last-Event-ID + 1 + RESUME_GAP
BACKLOG_SECONDS = 0.3  # how long the storm routes "load a backlog" before streaming
CLOSE_WAIT_LIFETIME = 60.0  # the close-wait handler gives up waiting after this long
WS_TICK = 0.25
RETRY_LINE = b"retry: 3000\n"

# Set in a request's scope by the close-wait route; LabHTTPProtocol (server.py) then keeps the
# connection half-open when the client sends its FIN, instead of closing it.
HALF_OPEN_SCOPE_KEY = "sse_doctor.lab.half_open_on_eof"

# Close codes a server sees when a WebSocket connection ends without the client's close
# frame: 1006 (abnormal: reset, FIN, a send into a dead socket) and 1005 (no status), which
# is what uvicorn's sans-I/O protocol reports when the TCP connection is lost after the
# handshake.
VANISHED_CLOSE_CODES = frozenset({1005, 1006})

SSE_ROUTES = (
    "leaky-session",
    "clean-session",
    "duplicates-unlimited",
    "newest-wins",
    "resume-ignored",
    "resume-supported",
    "resume-gap",
    "storm-leak",
    "storm-clean",
    "close-wait",
)
WS_ROUTES = ("ws-leaky-session", "ws-clean-session")
ROUTE_NAMES: tuple[str, ...] = SSE_ROUTES + WS_ROUTES


def route_path(name: str) -> str:
    """``/sse/<name>`` for SSE routes, ``/ws/<name without 'ws-'>`` for WebSocket routes."""
    if name in WS_ROUTES:
        return "/ws/" + name.removeprefix("ws-")
    return "/sse/" + name


def identity(conn: HTTPConnection) -> str:
    """Who the client is: ``?user=``, the ``user`` cookie, the ``X-User`` header, "anonymous"."""
    return (
        conn.query_params.get("user")
        or conn.cookies.get("user")
        or conn.headers.get("x-user")
        or "anonymous"
    )


# --------------------------------------------------------------------------------------------
# Per-app state


@dataclass
class RouteState:
    """What one route's handler believes about its clients."""

    open_streams: int = 0
    pending: set[str] = field(default_factory=set)
    subscribers: int = 0
    session_files: dict[str, Path] = field(default_factory=dict)


class BusyIdentity:
    """A busy identity on a session route: the pending flag and its temp file on disk."""

    def __init__(self, route: RouteState, user: str, path: Path) -> None:
        self.route = route
        self.user = user
        self.path = path
        self.closed = False

    def close(self) -> None:
        """Release the session (idempotent): pending off, file removed, stream uncounted."""
        if self.closed:
            return
        self.closed = True
        self.route.pending.discard(self.user)
        self.route.session_files.pop(self.user, None)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.route.open_streams -= 1


class ExperimentState:
    """All state of the experiment routes of one app, with its Prometheus registry.

    Temp files live in a per-app directory made on first use; :meth:`close` removes it (the
    lab server calls it on stop; a TemporaryDirectory finalizer covers apps never stopped).
    """

    def __init__(self) -> None:
        self.routes: dict[str, RouteState] = {name: RouteState() for name in ROUTE_NAMES}
        self.publishers: dict[str, TickPublisher] = {}
        self.newest: dict[str, set[asyncio.Event]] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StateCollector(self))

    def route(self, name: str) -> RouteState:
        return self.routes[name]

    @property
    def temp_root(self) -> Path | None:
        """The per-app temp directory (None until a session made a file, and after close)."""
        return None if self._tmp is None else Path(self._tmp.name)

    def _route_dir(self, name: str) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sse-doctor-lab-")
        path = Path(self._tmp.name) / name
        path.mkdir(exist_ok=True)
        return path

    def open_session(self, name: str, user: str) -> BusyIdentity:
        """Mark ``user`` busy on route ``name``, create its temp file, count its stream."""
        route = self.routes[name]
        fd, raw = tempfile.mkstemp(dir=self._route_dir(name), prefix="session-",
                                   suffix=".upload")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"upload being processed for {user}\n")
        path = Path(raw)
        route.pending.add(user)
        route.session_files[user] = path
        route.open_streams += 1
        return BusyIdentity(route, user, path)

    def temp_files(self, name: str) -> int:
        """Temp files of route ``name`` actually on disk (not what the handler believes)."""
        if self._tmp is None:
            return 0
        path = Path(self._tmp.name) / name
        try:
            return sum(1 for entry in os.scandir(path) if entry.is_file())
        except FileNotFoundError:
            return 0

    def snapshot(self) -> dict[str, dict[str, object]]:
        """The ``/lab/state`` document."""
        return {
            name: {
                "open_streams": route.open_streams,
                "pending": sorted(route.pending),
                "temp_files": self.temp_files(name),
                "subscribers": route.subscribers,
            }
            for name, route in self.routes.items()
        }

    def close(self) -> None:
        """Remove the temp directory (sessions still marked pending keep their flag)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class _StateCollector(Collector):
    """Reads the gauges from :class:`ExperimentState` at scrape time (one source of truth)."""

    def __init__(self, state: ExperimentState) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.state
        gauges = (
            ("lab_open_streams", "Streams the handler thinks are open.",
             lambda name: state.routes[name].open_streams),
            ("lab_pending_sessions", "Identities the handler has marked busy.",
             lambda name: len(state.routes[name].pending)),
            ("lab_temp_files", "Session temp files on disk.", state.temp_files),
            ("lab_subscribers", "Registered subscribers.",
             lambda name: state.routes[name].subscribers),
        )
        for metric, doc, value in gauges:
            family = GaugeMetricFamily(metric, doc, labels=["route"])
            for name in ROUTE_NAMES:
                family.add_metric([name], float(value(name)))
            yield family


def lab_state(conn: HTTPConnection) -> ExperimentState:
    return conn.app.state.lab_experiments


def _shutdown(conn: HTTPConnection) -> ShutdownSignal | None:
    return getattr(conn.app.state, "lab_shutdown", None)


async def state_endpoint(request: Request) -> Response:
    return JSONResponse(lab_state(request).snapshot())


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(lab_state(request).registry),
                    media_type=CONTENT_TYPE_LATEST)


# --------------------------------------------------------------------------------------------
# Stream bodies


async def ticks(
    writer: EventWriter,
    *,
    period: float = TICK,
    first: int = 1,
    count: int | None = None,
    stop: asyncio.Event | None = None,
    shutdown: ShutdownSignal | None = None,
) -> Body:
    """``event: tick`` (id and ``{"n": n}`` from ``first`` on) every ``period`` and a heartbeat
    every 1 s, on a drift-free schedule; ``count`` ticks or forever. Ends early when ``stop``
    is set (at once) or ``shutdown`` is (at the next chunk): StreamingResponse does not watch
    the lab's shutdown signal, so generators under it have to."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = beats = 0
    while count is None or sent < count:
        tick_due = start + sent * period
        beat_due = start + HEARTBEAT_FIRST + beats * HEARTBEAT
        delay = min(tick_due, beat_due) - loop.time()
        if delay > 0:
            if stop is None:
                await asyncio.sleep(delay)
            else:
                # asyncio.wait, not wait_for in suppress(TimeoutError): on Python 3.11 the
                # latter can turn a cancellation (client gone) into a swallowed timeout.
                waiter = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({waiter}, timeout=delay)
                finally:
                    waiter.cancel()
        if (stop is not None and stop.is_set()) or (shutdown is not None and shutdown.is_set()):
            return
        if tick_due <= beat_due:
            yield writer.event(json.dumps({"n": first + sent}), event="tick")
            sent += 1
        else:
            yield writer.comment("heartbeat")
            beats += 1


def _busy(user: str) -> Response:
    return JSONResponse(
        {"error": "FILE_PROCESSING",
         "detail": f"a file of user {user!r} is still being processed; try again later"},
        status_code=409,
    )


# --------------------------------------------------------------------------------------------
# 1-2. Session state after an abrupt disconnect (the incident)


async def leaky_session(request: Request) -> Response:
    """The incident's server: per-user busy flag and temp file, cleanup in ``except Exception``.

    A client that drops mid-stream cancels the generator; ``CancelledError`` is no
    ``Exception``, the cleanup never runs, and the user gets 409 until a restart."""
    lab, user = lab_state(request), identity(request)
    if user in lab.route("leaky-session").pending:
        return _busy(user)
    session = lab.open_session("leaky-session", user)
    shutdown = _shutdown(request)

    async def stream() -> Body:
        try:
            async for chunk in ticks(EventWriter(), count=SESSION_TICKS, shutdown=shutdown):
                yield chunk
            session.close()
        except Exception:  # the bug: cancellation on disconnect is a BaseException
            session.close()
            raise

    return StreamingResponse(stream(), media_type=EVENT_STREAM, headers=sse_headers())


async def clean_session(request: Request) -> Response:
    """The same server with its cleanup in ``finally``. One stream per user at a time is its
    policy (a second concurrent request gets 409); after a disconnect the user is free."""
    lab, user = lab_state(request), identity(request)
    if user in lab.route("clean-session").pending:
        return _busy(user)
    session = lab.open_session("clean-session", user)
    shutdown = _shutdown(request)

    async def stream() -> Body:
        try:
            async for chunk in ticks(EventWriter(), count=SESSION_TICKS, shutdown=shutdown):
                yield chunk
        finally:
            session.close()

    return StreamingResponse(stream(), media_type=EVENT_STREAM, headers=sse_headers())


# --------------------------------------------------------------------------------------------
# 3-4. Duplicate streams of one identity


class TickPublisher:
    """One per identity: a single tick schedule fanned out to every open stream of that user,
    so each stream gets the same event with the same id in the same loop step."""

    QUEUE_LIMIT = 256  # a stream that stops reading loses ticks rather than growing memory

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[bytes]] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(self.QUEUE_LIMIT)
        self.queues.add(queue)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> bool:
        """Drop ``queue``; True when it was the last one (the publisher has stopped)."""
        self.queues.discard(queue)
        if self.queues or self._task is None:
            return not self.queues
        self._task.cancel()
        self._task = None
        return True

    async def _run(self) -> None:
        async for chunk in ticks(EventWriter(retry=None)):
            for queue in self.queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(chunk)


async def duplicates_unlimited(request: Request) -> Response:
    """Any number of concurrent streams per identity, all fed by the user's one publisher."""
    lab, user = lab_state(request), identity(request)
    route = lab.route("duplicates-unlimited")

    async def stream() -> Body:
        publisher = lab.publishers.setdefault(user, TickPublisher())
        queue = publisher.subscribe()
        route.open_streams += 1
        try:
            yield RETRY_LINE  # a lone field line: no blank line, so nothing is dispatched
            while True:
                yield await queue.get()
        finally:
            route.open_streams -= 1
            if publisher.unsubscribe(queue):
                lab.publishers.pop(user, None)

    return LabStream(stream(), headers=sse_headers())


async def newest_wins(request: Request) -> Response:
    """Only the newest stream per identity lives: an older one gets ``event: replaced`` and
    its body ends cleanly as soon as a newer stream of the same user opens."""
    lab, user = lab_state(request), identity(request)
    route = lab.route("newest-wins")

    async def stream() -> Body:
        replaced = asyncio.Event()
        others = lab.newest.setdefault(user, set())
        for older in others:
            older.set()
        others.add(replaced)
        route.open_streams += 1
        try:
            writer = EventWriter()
            async for chunk in ticks(writer, stop=replaced):
                yield chunk
            if replaced.is_set():
                yield writer.event(json.dumps({"reason": "a newer stream of this user opened"}),
                                   event="replaced")
        finally:
            route.open_streams -= 1
            others.discard(replaced)
            if not others:
                lab.newest.pop(user, None)

    return LabStream(stream(), headers=sse_headers())


# --------------------------------------------------------------------------------------------
# 5-7. Resume with Last-Event-ID


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id", "").strip()
    return int(raw) if raw.isdigit() else None


def _resume_route(name: str, skip: int | None) -> Route:
    """Ticks every 0.1 s. ``skip`` None ignores Last-Event-ID; otherwise a stream resumed
    with Last-Event-ID k starts at k + 1 + skip (0: the exact continuation)."""

    async def endpoint(request: Request) -> Response:
        route = lab_state(request).route(name)
        last = _last_event_id(request) if skip is not None else None
        first = 1 if last is None else last + 1 + (skip or 0)

        async def stream() -> Body:
            route.open_streams += 1
            try:
                async for chunk in ticks(EventWriter(first_id=first), period=RESUME_TICK,
                                         first=first):
                    yield chunk
            finally:
                route.open_streams -= 1

        return LabStream(stream(), headers=sse_headers())

    endpoint.__name__ = endpoint.__qualname__ = name.replace("-", "_")
    return Route(route_path(name), endpoint, methods=["GET"], name=name)


# --------------------------------------------------------------------------------------------
# 8. Reconnect storms


async def storm_leak(request: Request) -> Response:
    """Registers a subscriber when the request arrives; the generator loads a backlog for
    0.3 s *before* entering the ``try`` whose ``finally`` unregisters. StreamingResponse sends
    the headers and starts the generator in the same step, so a client that aborts within
    those 0.3 s cancels the generator inside the backlog wait: one subscriber leaks."""
    lab = lab_state(request)
    route = lab.route("storm-leak")
    shutdown = _shutdown(request)
    route.subscribers += 1

    async def stream() -> Body:
        await asyncio.sleep(BACKLOG_SECONDS)  # the bug: outside the try below
        route.open_streams += 1
        try:
            async for chunk in ticks(EventWriter(), shutdown=shutdown):
                yield chunk
        finally:
            route.open_streams -= 1
            route.subscribers -= 1

    return StreamingResponse(stream(), media_type=EVENT_STREAM, headers=sse_headers())


async def storm_clean(request: Request) -> Response:
    """storm-leak done right: the backlog is loaded inside the ``try``, so an early abort
    unregisters too."""
    lab = lab_state(request)
    route = lab.route("storm-clean")
    shutdown = _shutdown(request)
    route.subscribers += 1

    async def stream() -> Body:
        try:
            await asyncio.sleep(BACKLOG_SECONDS)
            route.open_streams += 1
            try:
                async for chunk in ticks(EventWriter(), shutdown=shutdown):
                    yield chunk
            finally:
                route.open_streams -= 1
        finally:
            route.subscribers -= 1

    return StreamingResponse(stream(), media_type=EVENT_STREAM, headers=sse_headers())


# --------------------------------------------------------------------------------------------
# 11. CLOSE_WAIT


async def close_wait(request: Request) -> Response:
    """Sends one event, then waits for a job that never reports (a queue nobody feeds) and
    writes nothing more. Under the lab server (LabHTTPProtocol) this connection is not read
    while the response runs, so a client's FIN goes unnoticed and the server's socket stays
    in CLOSE_WAIT until the wait ends: after 60 s, or when the lab stops."""
    request.scope[HALF_OPEN_SCOPE_KEY] = True
    route = lab_state(request).route("close-wait")
    shutdown = _shutdown(request)

    async def stream() -> Body:
        route.open_streams += 1
        try:
            yield EventWriter().event(json.dumps({"n": 1}), event="tick")
            jobs: asyncio.Queue[bytes] = asyncio.Queue()  # never fed
            waits = [asyncio.ensure_future(jobs.get())]
            if shutdown is not None:
                waits.append(asyncio.ensure_future(shutdown.wait()))
            try:
                await asyncio.wait(waits, timeout=CLOSE_WAIT_LIFETIME,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
        finally:
            route.open_streams -= 1

    # Connection: close, so the end of this response also closes the socket (h11 would keep
    # it for the next request otherwise).
    return StreamingResponse(stream(), media_type=EVENT_STREAM,
                             headers=sse_headers(Connection="close"))


# --------------------------------------------------------------------------------------------
# 9-10. WebSocket sessions


async def _ws_push(websocket: WebSocket) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while True:
        n += 1
        await websocket.send_text(json.dumps({"n": n}))
        await asyncio.sleep(max(0.0, start + n * WS_TICK - loop.time()))


async def _ws_read_until_gone(websocket: WebSocket) -> None:
    """Read (and ignore) client messages; raise WebSocketDisconnect with the close code."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))


async def ws_session(websocket: WebSocket) -> None:
    """Push ``{"n": n}`` every 0.25 s until the client leaves: raises WebSocketDisconnect with
    the code the server saw (the client's close code, or 1005/1006 when the connection just
    vanished). Returns normally when the lab stops, after closing with 1001.

    How the client left is learnt from the reader, never from a failing send: uvicorn queues a
    ``websocket.disconnect`` for every lost connection, and a close frame's code comes first.
    """
    shutdown = getattr(websocket.app.state, "lab_shutdown", None)
    pusher = asyncio.ensure_future(_ws_push(websocket))
    reader = asyncio.ensure_future(_ws_read_until_gone(websocket))
    stop = asyncio.ensure_future(shutdown.wait()) if shutdown is not None else None
    waits = [reader] + ([stop] if stop is not None else [])
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pusher, reader, stop):
            if task is not None and not task.done():
                task.cancel()
        # The pusher's own failure (a send into a closed connection) says nothing the reader
        # did not: collect it so it is not logged as never retrieved.
        await asyncio.gather(pusher, return_exceptions=True)
    if reader.done() and not reader.cancelled():
        reader.result()  # raises WebSocketDisconnect
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await websocket.close(1001, "lab shutting down")


async def ws_leaky_session(websocket: WebSocket) -> None:
    """Releases the session only when the client announces its close (a close frame): after
    a connection that vanished (TCP reset or FIN, no close frame) it keeps the session "for a
    resume" that nothing ever expires, so ``lab_open_streams`` stays up.

    The leak hangs on the close code because on this stack nothing else tells the two apart:
    a send loop with its cleanup in ``except WebSocketDisconnect`` does clean up after a TCP
    drop, since Starlette turns the failed send's ``ClientDisconnected`` (an OSError) into
    ``WebSocketDisconnect(1006)``, and uvicorn queues a ``websocket.disconnect`` for every
    lost connection."""
    route = lab_state(websocket).route("ws-leaky-session")
    await websocket.accept()
    route.open_streams += 1
    try:
        await ws_session(websocket)
    except WebSocketDisconnect as exc:
        if exc.code not in VANISHED_CLOSE_CODES:
            route.open_streams -= 1


async def ws_clean_session(websocket: WebSocket) -> None:
    """The same session with its cleanup in ``finally``: released however the client left."""
    route = lab_state(websocket).route("ws-clean-session")
    await websocket.accept()
    route.open_streams += 1
    try:
        await ws_session(websocket)
    except WebSocketDisconnect:
        pass  # the client left; nothing to tell it
    finally:
        route.open_streams -= 1


# --------------------------------------------------------------------------------------------


def experiment_routes() -> list[BaseRoute]:
    """Every experiment route plus ``/lab/state`` and ``/lab/metrics``."""
    sse = {
        "leaky-session": leaky_session,
        "clean-session": clean_session,
        "duplicates-unlimited": duplicates_unlimited,
        "newest-wins": newest_wins,
        "storm-leak": storm_leak,
        "storm-clean": storm_clean,
        "close-wait": close_wait,
    }
    routes: list[BaseRoute] = [
        Route("/lab/state", state_endpoint, methods=["GET"], name="lab-state"),
        Route("/lab/metrics", metrics_endpoint, methods=["GET"], name="lab-metrics"),
    ]
    routes += [Route(route_path(name), endpoint, methods=["GET"], name=name)
               for name, endpoint in sse.items()]
    routes += [
        _resume_route("resume-ignored", None),
        _resume_route("resume-supported", 0),
        _resume_route("resume-gap", RESUME_GAP),
        WebSocketRoute(route_path("ws-leaky-session"), ws_leaky_session,
                       name="ws-leaky-session"),
        WebSocketRoute(route_path("ws-clean-session"), ws_clean_session,
                       name="ws-clean-session"),
    ]
    return routes
