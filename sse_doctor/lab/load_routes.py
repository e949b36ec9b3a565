"""Lab routes for `sse-doctor load`: servers whose trouble shows only with many streams open.

Each stamps heartbeats like ``/sse/clock`` (``: t=<perf_counter>``, so a load run on this
machine measures lag without options) and counts its own open streams:
- ``/sse/load-limit?max=N``: answers 503 (Retry-After) above N concurrent streams;
- ``/sse/load-drop?keep=N``: streams that arrive while N or more are open break (an incomplete
  chunked body, like a worker killed for memory) after ?after=S seconds;
- ``/sse/load-lag?per_stream_ms=K``: every heartbeat is written K ms x the open streams late
  (a broadcast loop that awaits each client in turn), stamped when it was due.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .sse_routes import LabCrash, LabStream, sse_headers, timeline


class _Gauge:
    """Open streams of one route (one per app: routes are built per app)."""

    def __init__(self) -> None:
        self.open = 0


class _Counted:
    """An async iterator that holds one slot of a gauge until it ends or is closed, even if
    it never started (LabStream closes every body it was given)."""

    def __init__(self, body: AsyncIterator[bytes], gauge: _Gauge) -> None:
        self.body = body
        self.gauge = gauge
        self.held = True
        gauge.open += 1

    def _release(self) -> None:
        if self.held:
            self.held = False
            self.gauge.open -= 1

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.body.__anext__()
        except BaseException:
            self._release()
            raise

    async def aclose(self) -> None:
        self._release()
        await self.body.aclose()  # type: ignore[attr-defined]


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(request.query_params.get(name, default))
    except ValueError:
        value = -1.0
    if not low <= value <= high:
        raise ValueError(f"{name} must be a number in {low:g}..{high:g}\n")
    return value


async def _heartbeats(interval: float, late_ms=None) -> AsyncIterator[bytes]:  # noqa: ANN001
    """``: t=<when due>`` every interval from a random phase; ``late_ms()``: how late to write
    each one."""
    perf = time.perf_counter
    yield b": t=%.6f\n" % perf()
    async for _ in timeline((random.uniform(0.0, interval), interval)):
        due = perf()
        if late_ms is not None:
            await asyncio.sleep(late_ms() / 1000.0)
        yield b": t=%.6f\n" % due


async def _dropping(interval: float, after: float) -> AsyncIterator[bytes]:
    deadline = time.perf_counter() + after
    async for chunk in _heartbeats(min(interval, after)):
        yield chunk
        if time.perf_counter() >= deadline:
            raise LabCrash("load-drop: a stream over the server's capacity breaks")


def load_routes() -> list[Route]:
    limit_gauge, drop_gauge, lag_gauge = _Gauge(), _Gauge(), _Gauge()

    async def load_limit(request: Request) -> Response:
        try:
            cap = int(_number(request, "max", 100, 0, 1_000_000))
            interval = _number(request, "interval", 1.0, 0.01, 60)
        except ValueError as exc:
            return PlainTextResponse(str(exc), 400)
        if limit_gauge.open >= cap:
            return PlainTextResponse("too many streams\n", 503, headers={"Retry-After": "5"})
        return LabStream(_Counted(_heartbeats(interval), limit_gauge), headers=sse_headers())

    async def load_drop(request: Request) -> Response:
        try:
            keep = int(_number(request, "keep", 100, 0, 1_000_000))
            after = _number(request, "after", 1.0, 0.01, 600)
            interval = _number(request, "interval", 1.0, 0.01, 60)
        except ValueError as exc:
            return PlainTextResponse(str(exc), 400)
        body = _dropping(interval, after) if drop_gauge.open >= keep else _heartbeats(interval)
        return LabStream(_Counted(body, drop_gauge), headers=sse_headers())

    async def load_lag(request: Request) -> Response:
        try:
            per_stream = _number(request, "per_stream_ms", 1.0, 0, 1000)
            interval = _number(request, "interval", 1.0, 0.01, 60)
        except ValueError as exc:
            return PlainTextResponse(str(exc), 400)
        body = _heartbeats(interval, lambda: per_stream * lag_gauge.open)
        return LabStream(_Counted(body, lag_gauge), headers=sse_headers())

    return [Route("/sse/load-limit", load_limit, methods=["GET"], name="load-limit"),
            Route("/sse/load-drop", load_drop, methods=["GET"], name="load-drop"),
            Route("/sse/load-lag", load_lag, methods=["GET"], name="load-lag")]
