"""SSE route handlers of the lab: one healthy stream and a zoo of misbehaving ones.

Every stream is served by :class:`LabStream`, a small ASGI response that sends the headers
(optionally after a delay), writes each chunk produced by an async generator as its own
``http.response.body`` message, and stops the generator as soon as the client disconnects
(it watches ``receive()`` for ``http.disconnect`` itself, so it does not depend on the
server's ASGI spec version).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

EVENT_STREAM = "text/event-stream; charset=utf-8"
TICK = 0.25  # seconds between events of a healthy stream
HEARTBEAT = 1.0  # seconds between heartbeat comments of a healthy stream
HEARTBEAT_FIRST = 0.625  # first heartbeat, placed between two ticks
RETRY_MS = 3000
# The no-heartbeat route's silence: the demo's --idle-limit is 2 s and its window 4 s, so a
# full second of margin on each side (a reader held up by a busy machine sees it shortened by
# as much as its first read was late).
NO_HEARTBEAT_SILENCE = 3.0

Body = AsyncIterator[bytes]
Endpoint = Callable[[Request], Awaitable[Response]]


class LabCrash(RuntimeError):
    """Raised on purpose by the crash scenario (the lab server keeps it out of its logs)."""


# --------------------------------------------------------------------------------------------
# Building blocks


class EventWriter:
    """Serializes events: incrementing ``id:`` fields and a single ``retry:`` in the first event.

    Comments are written as one ``: text`` line without a trailing blank line (a comment
    followed by a blank line makes httpx-sse emit an empty event once an id has been seen,
    its bug #35, which sse-doctor does not report).
    """

    def __init__(self, *, retry: int | None = RETRY_MS, ids: bool = True, first_id: int = 1):
        self._retry = retry
        self.ids = ids
        self.next_id = first_id

    def fields(self, *, event: str | None = None) -> list[bytes]:
        """The ``retry`` (first time only), ``id`` and ``event`` lines of the next event."""
        lines: list[bytes] = []
        if self._retry is not None:
            lines.append(b"retry: %d" % self._retry)
            self._retry = None
        if self.ids:
            lines.append(b"id: %d" % self.next_id)
            self.next_id += 1
        if event:
            lines.append(b"event: " + event.encode())
        return lines

    def event(
        self,
        data: str | bytes,
        *,
        event: str | None = None,
        extra_lines: Iterable[bytes] = (),
    ) -> bytes:
        raw = data.encode() if isinstance(data, str) else data
        lines = self.fields(event=event)
        lines += [b"data: " + part for part in raw.split(b"\n")]
        lines += list(extra_lines)
        return b"\n".join(lines) + b"\n\n"

    @staticmethod
    def comment(text: str) -> bytes:
        return b": " + text.encode() + b"\n"


async def timeline(*schedules: tuple[float, float]) -> AsyncIterator[int]:
    """Forever yield the index of the next due schedule ``(first_offset, period)``.

    Due times are ``start + first + n * period`` (no drift); ties go to the lower index.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    counts = [0] * len(schedules)
    while True:
        due = [first + period * n for (first, period), n in zip(schedules, counts, strict=True)]
        index = min(range(len(due)), key=due.__getitem__)
        delay = start + due[index] - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        counts[index] += 1
        yield index


def sse_headers(*, cache_control: bool = True, **extra: str) -> dict[str, str]:
    headers = {"X-Accel-Buffering": "no"}
    if cache_control:
        headers["Cache-Control"] = "no-cache"
    headers.update(extra)
    return headers


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class ShutdownSignal:
    """A flag set from any thread that wakes coroutines waiting on it in any event loop.

    The lab server sets it on stop so open streams end their bodies cleanly, instead of
    uvicorn cancelling them after its graceful-shutdown timeout (which logs tracebacks).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with self._lock:
            self._set = True
            waiters = list(self._waiters)
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed already
                pass

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._set:
                return
            self._waiters.add((loop, future))
        try:
            await future
        finally:
            with self._lock:
                self._waiters.discard((loop, future))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class LabStream(Response):
    """A streaming response that ends its body generator when the client goes away.

    Each chunk of ``body`` is sent as its own ``http.response.body`` message. ``start_delay``
    holds back ``http.response.start`` (raw ASGI: nothing reaches the client before it). If
    the body generator raises, the exception propagates to the server, which drops the
    connection mid-body. If the app's ``state.lab_shutdown`` (a :class:`ShutdownSignal`) is
    set, the body ends cleanly.
    """

    def __init__(
        self,
        body: Body,
        *,
        status_code: int = 200,
        media_type: str = EVENT_STREAM,
        headers: Mapping[str, str] | None = None,
        start_delay: float = 0.0,
    ) -> None:
        self.body_iterator = body
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.start_delay = start_delay
        self.init_headers(headers)
        self._started = False

    async def _start(self, send: Send) -> None:
        self._started = True
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )

    async def _produce(self, send: Send) -> None:
        if self.start_delay > 0:
            await asyncio.sleep(self.start_delay)
        await self._start(send)
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # ASGI >= 2.4 servers raise this from send() once the client is gone
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD":
            await self._start(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        state = getattr(scope.get("app"), "state", None)
        shutdown: ShutdownSignal | None = getattr(state, "lab_shutdown", None)
        producer = asyncio.ensure_future(self._produce(send))
        disconnect = asyncio.ensure_future(_wait_for_disconnect(receive))
        tasks = [producer, disconnect]
        if shutdown is not None:
            tasks.append(asyncio.ensure_future(shutdown.wait()))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if not producer.cancelled():
            error = producer.exception()
            if error is not None:
                raise error
            return
        if shutdown is not None and shutdown.is_set() and disconnect.cancelled():
            # The server is stopping: end the body cleanly.
            if not self._started:
                await self._start(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})


# --------------------------------------------------------------------------------------------
# Bodies


def _tick_data(counter: int) -> str:
    return json.dumps({"counter": counter, "timestamp": time.time()})


async def healthy_body(writer: EventWriter, *, heartbeat: bool = True) -> Body:
    """``event: tick`` every 0.25 s and a ``: heartbeat`` comment every 1 s, forever."""
    schedules = [(0.0, TICK)]
    if heartbeat:
        schedules.append((HEARTBEAT_FIRST, HEARTBEAT))
    counter = 0
    async for which in timeline(*schedules):
        if which == 0:
            counter += 1
            yield writer.event(_tick_data(counter), event="tick")
        else:
            yield writer.comment("heartbeat")


async def gzip_body(body: Body) -> Body:
    """gzip ``body``, flushing (Z_SYNC_FLUSH) after every chunk so each still arrives promptly."""
    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    async for chunk in body:
        yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()


async def buffered_body(writer: EventWriter) -> Body:
    """Events made every 0.1 s (plus a heartbeat every 1 s), written 10 events per chunk."""
    batch: list[bytes] = []
    events = 0
    async for which in timeline((0.0, 0.1), (0.55, HEARTBEAT)):
        if which == 0:
            events += 1
            batch.append(writer.event(_tick_data(events), event="tick"))
            if events % 10 == 0:
                yield b"".join(batch)
                batch = []
        else:
            batch.append(writer.comment("heartbeat"))


async def no_heartbeat_body(writer: EventWriter) -> Body:
    counter = 0
    async for _ in timeline((0.0, NO_HEARTBEAT_SILENCE)):
        counter += 1
        yield writer.event(_tick_data(counter), event="tick")


async def stalled_body(writer: EventWriter) -> Body:
    yield writer.event(json.dumps({"step": 1}), event="progress")
    async for _ in timeline((0.3, 0.3)):
        yield writer.comment("ping")


async def stale_body(writer: EventWriter) -> Body:
    async for _ in timeline((0.0, 0.2)):
        yield writer.event(json.dumps({"price": 100.0}), event="price")


async def progress_body(writer: EventWriter, *, count: int | None, interval: float) -> Body:
    """``event: progress`` with ``{"step": n}``; ``count`` events or forever."""
    step = 0
    async for _ in timeline((0.0, interval)):
        step += 1
        yield writer.event(json.dumps({"step": step}), event="progress")
        if count is not None and step >= count:
            return


async def crash_body(writer: EventWriter) -> Body:
    async for chunk in progress_body(writer, count=3, interval=0.1):
        yield chunk
    await asyncio.sleep(0.1)
    raise LabCrash("the lab's crash scenario fails mid-stream on purpose")


async def _ticks(writer: EventWriter, count: int, first: float, interval: float) -> Body:
    counter = 0
    async for _ in timeline((first, interval)):
        counter += 1
        yield writer.event(_tick_data(counter), event="tick")
        if counter >= count:
            return


async def finite_body(writer: EventWriter) -> Body:
    async for chunk in _ticks(writer, 5, 0.0, 0.1):
        yield chunk


async def malformed_body(writer: EventWriter) -> Body:
    """Healthy-like, but every 3rd event also has a ``Data:`` line (a field browsers ignore)
    and every 4th event carries invalid UTF-8 in its data. Every event keeps its id."""
    counter = 0
    async for which in timeline((0.0, TICK), (HEARTBEAT_FIRST, HEARTBEAT)):
        if which == 1:
            yield writer.comment("heartbeat")
            continue
        counter += 1
        data = _tick_data(counter).encode()
        extra: list[bytes] = []
        if counter % 3 == 2:
            extra.append(b'Data: {"note": "capital D, ignored by browsers"}')
        if counter % 4 == 3:
            data = b'{"counter": %d, "blob": "\xff\xfe"}' % counter
        yield writer.event(data, event="tick", extra_lines=extra)


async def divergence_body(writer: EventWriter) -> Body:
    counter = 0
    async for which in timeline((0.0, 0.5), (0.2, 0.2)):
        if which == 0:
            counter += 1
            yield writer.event(_tick_data(counter), event="tick")
        else:
            # A keepalive typed as an event but with no data line: browsers drop it,
            # httpx-sse dispatches a 'ping' event with empty data.
            yield b"event: ping\n\n"


GARBAGE_SEED = 0x5EED


async def garbage_body() -> Body:
    rng = random.Random(GARBAGE_SEED)
    async for _ in timeline((0.0, 0.1)):
        yield rng.randbytes(4096)


HUGE_LINE_BYTES = 10 * 1024 * 1024
HUGE_CHUNK = 64 * 1024


async def huge_line_body(writer: EventWriter) -> Body:
    yield b"\n".join(writer.fields(event="huge")) + b"\ndata: "
    filler = b"x" * HUGE_CHUNK
    for _ in range(HUGE_LINE_BYTES // HUGE_CHUNK):
        yield filler
        await asyncio.sleep(0)  # let other connections run
    yield b"\n\n"
    async for chunk in healthy_body(writer):
        yield chunk


async def silent_body() -> Body:
    await asyncio.Event().wait()  # never set: ends only when cancelled (client left)
    yield b""  # pragma: no cover - makes this an async generator


# --------------------------------------------------------------------------------------------
# Endpoints


async def healthy(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter()), headers=sse_headers())


async def http_error(request: Request) -> Response:
    return JSONResponse(
        {
            "error": "internal",
            "detail": "simulated failure before the stream starts",
            "scenario": "http-error",
        },
        status_code=500,
    )


async def wrong_content_type(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter()), media_type="text/plain", headers=sse_headers())


async def no_cache_missing(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter()), headers=sse_headers(cache_control=False))


async def gzip(request: Request) -> Response:
    headers = sse_headers(**{"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return LabStream(gzip_body(healthy_body(EventWriter())), headers=headers)


# Past the 1 s delayed-headers threshold, well inside the demo's 2 s idle limit.
DELAYED_HEADERS_SECONDS = 1.15


async def delayed_headers(request: Request) -> Response:
    return LabStream(
        healthy_body(EventWriter()),
        headers=sse_headers(),
        start_delay=DELAYED_HEADERS_SECONDS,
    )


async def buffered(request: Request) -> Response:
    return LabStream(buffered_body(EventWriter()), headers=sse_headers())


async def no_heartbeat(request: Request) -> Response:
    return LabStream(no_heartbeat_body(EventWriter()), headers=sse_headers())


async def stalled(request: Request) -> Response:
    return LabStream(stalled_body(EventWriter()), headers=sse_headers())


async def stale(request: Request) -> Response:
    return LabStream(stale_body(EventWriter()), headers=sse_headers())


async def no_completed(request: Request) -> Response:
    body = progress_body(EventWriter(), count=None, interval=TICK)
    return LabStream(body, headers=sse_headers())


async def endless(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter()), headers=sse_headers())


async def ends_early(request: Request) -> Response:
    body = progress_body(EventWriter(), count=3, interval=0.1)
    return LabStream(body, headers=sse_headers())


async def crash(request: Request) -> Response:
    return LabStream(crash_body(EventWriter()), headers=sse_headers())


async def finite(request: Request) -> Response:
    return LabStream(finite_body(EventWriter()), headers=sse_headers())


async def low_retry(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter(retry=200)), headers=sse_headers())


async def no_ids(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter(ids=False)), headers=sse_headers())


async def malformed(request: Request) -> Response:
    return LabStream(malformed_body(EventWriter()), headers=sse_headers())


async def divergence(request: Request) -> Response:
    return LabStream(divergence_body(EventWriter()), headers=sse_headers())


async def garbage(request: Request) -> Response:
    return LabStream(garbage_body(), headers=sse_headers())


async def huge_line(request: Request) -> Response:
    return LabStream(huge_line_body(EventWriter()), headers=sse_headers())


async def silent(request: Request) -> Response:
    return LabStream(silent_body(), headers=sse_headers())


FIREHOSE_DEFAULT_EVENTS = 200_000
FIREHOSE_DEFAULT_SIZE = 100
FIREHOSE_MAX_BYTES = 512 * 1024 * 1024
FIREHOSE_BLOCK = 64 * 1024


@functools.lru_cache(maxsize=4)
def firehose_blocks(events: int, size: int) -> tuple[bytes, ...]:
    """The whole firehose body for ``(events, size)``, cut into ~64 KiB blocks (cached)."""
    payload = b"x" * size
    parts = [b"retry: %d\n" % RETRY_MS] if events else []
    parts += [b"id: %d\ndata: %s\n\n" % (i, payload) for i in range(1, events + 1)]
    body = b"".join(parts)
    return tuple(body[i : i + FIREHOSE_BLOCK] for i in range(0, len(body), FIREHOSE_BLOCK))


async def _blocks_body(blocks: tuple[bytes, ...]) -> Body:
    for block in blocks:
        yield block
        await asyncio.sleep(0)  # let other connections (and the disconnect watcher) run


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = int(raw)  # ValueError for junk
    if value < 0:
        raise ValueError(name)
    return value


async def firehose(request: Request) -> Response:
    try:
        events = _int_param(request, "events", FIREHOSE_DEFAULT_EVENTS)
        size = _int_param(request, "size", FIREHOSE_DEFAULT_SIZE)
    except ValueError:
        return PlainTextResponse("events and size must be non-negative integers\n", 400)
    if events * (size + 20) > FIREHOSE_MAX_BYTES:
        return PlainTextResponse(f"firehose body limited to {FIREHOSE_MAX_BYTES} bytes\n", 400)
    blocks = await asyncio.to_thread(firehose_blocks, events, size)
    return LabStream(_blocks_body(blocks), headers=sse_headers())


async def _steady_body(writer: EventWriter, interval: float, size: int) -> Body:
    payload = "x" * size
    counter = 0
    async for _ in timeline((0.0, interval)):
        counter += 1
        yield writer.event(f"{counter} {payload}", event="tick")


async def steady(request: Request) -> Response:
    """A steady stream for putting proxies in front of: ?interval=S&size=B, forever."""
    try:
        interval = float(request.query_params.get("interval", "0.05"))
        size = _int_param(request, "size", 200)
    except ValueError:
        return PlainTextResponse("interval and size must be non-negative numbers\n", 400)
    if not 0.001 <= interval <= 60 or size > 1 << 20:
        return PlainTextResponse("interval must be 0.001..60 s and size at most 1 MiB\n", 400)
    return LabStream(_steady_body(EventWriter(), interval, size), headers=sse_headers())


async def _echo_body(writer: EventWriter, info: str) -> Body:
    yield writer.event(info, event="echo")
    async for chunk in _ticks(writer, 5, 0.1, 0.1):
        yield chunk


async def echo(request: Request) -> Response:
    body = await request.body()
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    info = json.dumps(
        {
            "method": request.method,
            "path": request.url.path,
            "headers": headers,
            "query": dict(request.query_params.multi_items()),
            "body": body.decode("utf-8", errors="replace"),
        }
    )
    return LabStream(_echo_body(EventWriter(), info), headers=sse_headers())


async def _clock_body(interval: float, spread: bool) -> Body:
    perf = time.perf_counter
    # Read as late as possible: LabStream writes the chunk as soon as it is yielded.
    yield b": t=%.6f\n" % perf()
    first = interval
    if spread:
        # Streams opened in one burst would otherwise all write in the same instant, and
        # their lag would measure that burst rather than the client.
        first = random.uniform(0.0, interval)
    async for _ in timeline((first, interval)):
        yield b": t=%.6f\n" % perf()


async def clock(request: Request) -> Response:
    """Comments ``: t=<perf_counter at send>`` every ?interval=S (default 1 s), the first at
    once; with ?spread=1 the second comes at a random point within the interval. perf_counter
    is CLOCK_MONOTONIC on Linux, shared by every process on the machine, so a client there
    can subtract it from its own arrival times (bench/scale_bench.py)."""
    try:
        interval = float(request.query_params.get("interval", "1.0"))
    except ValueError:
        return PlainTextResponse("interval must be a number of seconds\n", 400)
    if not 0.001 <= interval <= 60:
        return PlainTextResponse("interval must be 0.001..60 s\n", 400)
    spread = request.query_params.get("spread", "0") == "1"
    return LabStream(_clock_body(interval, spread), headers=sse_headers())


# scenario name -> (endpoint, HTTP methods)
HANDLERS: dict[str, tuple[Endpoint, tuple[str, ...]]] = {
    "healthy": (healthy, ("GET",)),
    "http-error": (http_error, ("GET",)),
    "wrong-content-type": (wrong_content_type, ("GET",)),
    "no-cache-missing": (no_cache_missing, ("GET",)),
    "gzip": (gzip, ("GET",)),
    "delayed-headers": (delayed_headers, ("GET",)),
    "buffered": (buffered, ("GET",)),
    "no-heartbeat": (no_heartbeat, ("GET",)),
    "stalled": (stalled, ("GET",)),
    "stale": (stale, ("GET",)),
    "no-completed": (no_completed, ("GET",)),
    "endless": (endless, ("GET",)),
    "ends-early": (ends_early, ("GET",)),
    "crash": (crash, ("GET",)),
    "finite": (finite, ("GET",)),
    "low-retry": (low_retry, ("GET",)),
    "no-ids": (no_ids, ("GET",)),
    "malformed": (malformed, ("GET",)),
    "divergence": (divergence, ("GET",)),
    "garbage": (garbage, ("GET",)),
    "huge-line": (huge_line, ("GET",)),
    "silent": (silent, ("GET",)),
    "firehose": (firehose, ("GET",)),
    "steady": (steady, ("GET",)),
    "echo": (echo, ("GET", "POST")),
    "clock": (clock, ("GET",)),
}

# The GraphQL and Socket.IO profiles' HTTP routes (lab/protocol_routes.py).
from .protocol_routes import http_handlers  # noqa: E402 - appended to the table above

HANDLERS.update(http_handlers())
