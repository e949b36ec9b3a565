"""The WebSocket engine: open one WebSocket, send the --send messages in order, ping every
--ping-interval, and record everything until the server closes or the window ends
(conclude.probe runs the checks on the observation).

Every wait is bounded: connecting and the opening handshake by --timeout, the session by
--duration (counted from the handshake), the closing handshake by CLOSE_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import socket
import struct
import time
from datetime import datetime, timezone
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
)
from websockets.protocol import State

from sse_doctor import feed
from sse_doctor.errors import UsageError
from sse_doctor.interrupt import Stopped, unless_stopped
from sse_doctor.model import MAX_BODY_EXCERPT, Close
from sse_doctor.sse.transport import describe_connect_error
from sse_doctor.target import Target
from sse_doctor.ws.observation import WsObservation
from sse_doctor.ws.options import WsOptions, pong_deadline_s
from sse_doctor.ws.recorder import RecordingConnection, WsRecorder, parse_head

CLOSE_TIMEOUT_S = 2.0  # the closing handshake (at most --timeout)
_HAS_PROXY_ARG = "proxy" in inspect.signature(connect).parameters  # websockets >= 15


def check_target(target: Target) -> None:
    if target.method != "GET":
        raise UsageError("-X/--method does not apply to WebSocket URLs: the opening handshake "
                         "is a GET")
    if target.body is not None:
        raise UsageError("-d/--data does not apply to WebSocket URLs: send messages with --send")


# --- connecting ------------------------------------------------------------------------------


def record_failure(obs: WsObservation, rec: WsRecorder, exc: BaseException,
                   target: Target) -> None:
    """Classify why the socket did not open: an HTTP answer that was not an upgrade
    (ws-handshake-failed) or no HTTP answer at all (target-unreachable)."""
    head = parse_head(bytes(rec.raw_head)) if rec.raw_head else None
    if isinstance(exc, InvalidStatus):
        r = exc.response
        obs.status, obs.reason_phrase = r.status_code, r.reason_phrase
        obs.http_version = "HTTP/1.1"
        obs.headers = list(r.headers.raw_items())
        obs.body_excerpt = bytes(r.body[:MAX_BODY_EXCERPT])
        obs.handshake_error = (f"HTTP {r.status_code} {r.reason_phrase} instead of "
                               "101 Switching Protocols").replace("  ", " ")
        return
    if head is not None:
        status, reason, version, headers, body = head
        if obs.status is None:
            obs.status, obs.reason_phrase, obs.http_version = status, reason, version
            obs.headers = headers
            if rec.head_t is not None:
                obs.headers_ms = rec.ms(rec.head_t)
        obs.body_excerpt = body[:MAX_BODY_EXCERPT]
        if status == 101:
            obs.handshake_error = f"HTTP 101, but not a valid WebSocket upgrade: {exc}"
        else:
            obs.handshake_error = (f"HTTP {status} {reason} instead of 101 Switching Protocols"
                                   ).replace("  ", " ")
            if rec.head_cut:
                obs.handshake_error += " (its body was still streaming after 1 s)"
        return
    timeout = isinstance(exc, (TimeoutError, asyncio.TimeoutError))
    if rec.raw_head:
        raw = bytes(rec.raw_head)
        obs.body_excerpt = raw[:MAX_BODY_EXCERPT]
        what = "an incomplete HTTP response" if raw.startswith(b"HTTP/") else \
            "an answer that is not HTTP"
        obs.handshake_error = f"{what} to the opening handshake" + (
            f" within {target.timeout:g} s" if timeout else f" ({exc})")
        return
    if timeout:
        obs.unreachable = (f"timeout: connected, but no answer to the opening handshake within "
                           f"{target.timeout:g} s" if obs.connect_ms is not None else
                           f"timeout: could not connect within {target.timeout:g} s")
    elif isinstance(exc, InvalidHandshake):
        obs.unreachable = "the server closed the connection without answering the handshake"
    elif isinstance(exc, OSError):
        obs.unreachable = describe_connect_error(exc)
    elif isinstance(exc, (InvalidURI, InvalidProxy, ValueError)):
        raise UsageError(f"invalid WebSocket URL {target.url!r}: {exc}") from None
    else:
        raise exc


def unopened_close(obs: WsObservation) -> Close:
    """How a connection that never opened ended (the report's `close` is always an object): a
    refused handshake was ended by the server when it answered, without a close code; no answer
    at all is the transport's doing."""
    if obs.handshake_error is not None:
        t_ms = obs.headers_ms if obs.headers_ms is not None else obs.end_ms
        return Close("server", t_ms, None,
                     f"the server refused the WebSocket handshake: {obs.handshake_error}")
    return Close("transport", obs.end_ms, None, f"no WebSocket connection: {obs.unreachable}")


async def open_connection(target: Target, opts: WsOptions, rec: WsRecorder,
                          close_timeout: float) -> Any:
    kwargs: dict[str, Any] = {}
    if target.url.lower().startswith("wss:"):
        kwargs["ssl"] = target.ssl_context()
    if _HAS_PROXY_ARG:
        kwargs["proxy"] = None  # like the SSE probe: no proxy from the environment
    return await connect(
        target.url,
        origin=opts.origin,  # type: ignore[arg-type]
        subprotocols=list(opts.subprotocols) or None,  # type: ignore[arg-type]
        additional_headers=list(target.headers),
        open_timeout=target.timeout,
        ping_interval=None,  # only our pings, so each one is sent and timed by us
        ping_timeout=None,
        close_timeout=close_timeout,
        max_size=opts.max_message_size,
        create_connection=functools.partial(RecordingConnection, recorder=rec),  # type: ignore
        **kwargs,
    )


# --- the session ------------------------------------------------------------------------------


async def _send_all(ws: Any, rec: WsRecorder, payloads: tuple[bytes, ...]) -> None:
    for data in payloads:
        try:
            message: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            message = data
        if ws.protocol.state is not State.OPEN:
            return
        rec.out_message(time.perf_counter(), data, isinstance(message, str))
        await ws.send(message)


def _forget(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


async def _ping_every(ws: Any, rec: WsRecorder, interval: float) -> None:
    start = time.perf_counter()
    n = 0
    while True:
        n += 1
        await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
        if ws.protocol.state is not State.OPEN:
            return
        payload = b"sse-doctor ping %d" % n
        rec.out_ping(time.perf_counter(), payload)
        waiter = await ws.ping(payload)
        if isinstance(waiter, asyncio.Future):
            waiter.add_done_callback(_forget)


async def _quietly(coro: Any) -> None:
    try:
        await coro
    except (ConnectionClosed, OSError):
        pass


async def _session(ws: Any, rec: WsRecorder, opts: WsOptions, close_timeout: float) -> None:
    assert rec.t0 is not None
    deadline = rec.t0 + opts.duration
    jobs = [asyncio.ensure_future(_quietly(_send_all(ws, rec, opts.send)))]
    if opts.ping_interval:
        jobs.append(asyncio.ensure_future(_quietly(_ping_every(ws, rec, opts.ping_interval))))
    waits = [asyncio.ensure_future(rec.stop.wait()), asyncio.ensure_future(rec.closing.wait())]
    try:
        await asyncio.wait(waits, timeout=max(0.0, deadline - time.perf_counter()),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in jobs + waits:
            task.cancel()
        await asyncio.gather(*jobs, *waits, return_exceptions=True)
    if ws.protocol.state is State.OPEN and opts.abort:
        _drop(ws, rec, opts.abort)
        await wait_closed(ws, close_timeout)
        return
    stopped = rec.stop.is_set()
    reason = "sse-doctor: --max-events reached" if stopped else \
        "sse-doctor: observation window over"
    if stopped and feed.stop_reason():  # Ctrl-C, SIGTERM
        reason = f"sse-doctor: {feed.stop_reason()}"
    await end_session(ws, rec, close_timeout, "client" if stopped else "deadline", reason)


async def end_session(ws: Any, rec: WsRecorder, close_timeout: float, by: str,
                      reason: str, code: int = 1000) -> None:
    """Close our side (CODE, REASON) when the socket is still open, then wait, within
    close_timeout, for the TCP connection to end; abort it otherwise. BY is how the report
    names our close: "client" (we stopped on purpose) or "deadline" (the window ended)."""
    if ws.protocol.state is State.OPEN:
        rec.client_close_by = by
        t = time.perf_counter()
        closer = asyncio.ensure_future(_quietly(ws.close(code, reason)))
        await asyncio.sleep(0)  # the close frame is written in close()'s first step
        rec.sync_close_sent(t)
        done, _ = await asyncio.wait([closer], timeout=close_timeout + 0.5)
        if not done:
            closer.cancel()
    await wait_closed(ws, close_timeout)


async def wait_closed(ws: Any, close_timeout: float) -> None:
    conn: RecordingConnection = ws
    try:
        await asyncio.wait_for(asyncio.shield(ws.connection_lost_waiter), close_timeout)
    except (asyncio.TimeoutError, TimeoutError):
        pass
    if not ws.connection_lost_waiter.done():
        conn.abort_transport()
        try:
            await asyncio.wait_for(asyncio.shield(ws.connection_lost_waiter), 1.0)
        except (asyncio.TimeoutError, TimeoutError):
            pass


def _drop(conn: RecordingConnection, rec: WsRecorder, mode: str) -> None:
    """End the connection the way a crashed client or a dead network does: no close frame,
    TCP closed with a FIN or reset with SO_LINGER 0."""
    rec.abort_mode = mode
    sock = conn.transport.get_extra_info("socket")
    if mode == "rst" and sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        conn.abort_transport()
    else:
        conn.transport.close()


async def observe_ws(target: Target, opts: WsOptions) -> WsObservation:
    check_target(target)
    obs = WsObservation(
        url=target.url,
        started_at=datetime.now(timezone.utc),
        window_s=opts.duration,
        offered_subprotocols=list(opts.subprotocols),
        origin=opts.origin,
        max_message_size=opts.max_message_size,
        ping_interval_s=opts.ping_interval,
    )
    if opts.ping_interval:
        obs.pong_deadline_ms = pong_deadline_s(opts.ping_interval, target.timeout) * 1000
    rec = WsRecorder(obs, keep=opts.keep, expect=opts.expect_messages, max_events=opts.max_events)
    close_timeout = min(CLOSE_TIMEOUT_S, target.timeout)
    feed.on_stop(rec.stop.set)  # Ctrl-C in a probe session: close now, as --max-events does
    try:
        opening = open_connection(target, opts, rec, close_timeout)
        if feed.stop_event() is None:
            ws = await opening
        else:  # Ctrl-C in a probe session abandons the handshake and closes its socket
            ws = await unless_stopped(opening, rec.stop, discard=lambda c: c.abort_transport())
    except Stopped:
        obs.end_ms = rec.ms(time.perf_counter())
        obs.close = Close("client", obs.end_ms, None,
                          f"{feed.stop_reason()} before the opening handshake finished")
        return obs
    except Exception as exc:  # noqa: BLE001 - classified below; anything else re-raised
        record_failure(obs, rec, exc, target)
        obs.end_ms = rec.ms(time.perf_counter())
        obs.close = unopened_close(obs)
        return obs
    rec.on_open(ws)
    try:
        await _session(ws, rec, opts, close_timeout)
    finally:
        if not ws.connection_lost_waiter.done():
            ws.abort_transport()
    rec.finish(time.perf_counter())
    if rec.listen is not None and obs.close is not None:
        rec.listen((obs.close,))
    return obs
