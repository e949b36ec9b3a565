"""The only SSE code that touches sockets: one HTTP stream through httpx, recorded as
timestamped raw material (response head, body chunks, how the stream ended).

It does not parse: a Sink gets the bytes with their perf_counter arrival times and decides
when it has seen enough. Every wait is bounded: headers by the target's timeout, the body by
the observation window.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from sse_doctor.interrupt import unless_stopped
from sse_doctor.target import Target


@dataclass
class Head:
    t: float  # perf_counter when the response head arrived
    status: int
    http_version: str
    headers: list[tuple[str, str]]


@dataclass
class End:
    by: str  # server | transport | client | deadline
    t: float
    reason: str = ""


class Sink(Protocol):
    def head(self, head: Head) -> None: ...

    def chunk(self, t: float, data: bytes) -> bool:
        """Record a body chunk; return False to stop reading (the client ends the stream)."""
        ...


class Unreachable(Exception):
    """No response: DNS, refused, TLS, or timeout before the response head."""


def make_client(target: Target, max_connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http2=target.http2,
        verify=target.ssl_context(),
        # Body reads are bounded by the observation window instead of a read timeout:
        # a stream may legitimately stay silent for longer than --timeout.
        timeout=httpx.Timeout(connect=target.timeout, read=None, write=target.timeout,
                              pool=target.timeout),
        follow_redirects=True,  # EventSource follows redirects too
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=0),
        trust_env=False,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def describe_connect_error(exc: BaseException) -> str:
    # httpx wraps the socket error ("All connection attempts failed"); the cause says why.
    chain = _chain(exc)
    text = "; ".join(dict.fromkeys(str(e) for e in chain if str(e))) or type(exc).__name__
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection refused: {text}"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return f"DNS lookup failed: {text}"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return f"TLS failure: {text}"
    low = text.lower()
    if isinstance(exc, ssl.SSLError) or "ssl" in low or "certificate" in low:
        return f"TLS failure: {text}"
    if "name or service not known" in low or "nodename nor servname" in low \
            or "getaddrinfo" in low or "no address associated" in low \
            or "temporary failure in name resolution" in low:
        return f"DNS lookup failed: {text}"
    if "refused" in low:
        return f"connection refused: {text}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout: {text}"
    return f"{type(exc).__name__}: {text}"


def timeout_reason(done: set[str], timeout: float, tls: bool) -> str:
    """Why the response head did not come within --timeout, from the httpcore trace steps
    completed (connect_tcp, start_tls, send_request_headers, ...)."""
    if "send_request_headers" in done:
        return (f"timeout: connected and sent the request, but no response head within "
                f"{timeout:g} s (the server, or a proxy in front of it, holds the response back)")
    if "connect_tcp" in done:
        step = ("the TLS handshake did not finish" if tls and "start_tls" not in done
                else "the request could not be sent")
        return f"timeout: connected, but {step} within {timeout:g} s"
    return f"timeout: could not connect within {timeout:g} s"


async def stream(
    target: Target,
    sink: Sink,
    t0: float,
    window_s: float,
    client: httpx.AsyncClient,
    extra_headers: list[tuple[str, str]] | None = None,
    stop: asyncio.Event | None = None,
    abort: str = "fin",
) -> End:
    """Send the request at t0 (perf_counter), feed the sink until the window closes, the
    sink says stop, `stop` is set, or the server ends the stream.

    When we end the stream ourselves, `abort` says how the TCP connection goes: "fin" (an
    ordinary close) or "rst" (SO_LINGER 0: a reset, as when a client process dies)."""
    headers = target.sse_headers()
    if extra_headers:
        headers += extra_headers
    # httpcore's trace extension says how far the request got, so a timeout can tell
    # "could not connect" from "connected, request sent, the response head held back"
    # (a buffering proxy, or an app that sends its headers with the first event).
    done: set[str] = set()

    async def trace(name: str, info: dict) -> None:
        if name.endswith(".complete"):
            done.add(name.rsplit(".", 2)[-2])

    request = client.build_request(target.method, target.url, headers=headers,
                                   content=target.body, extensions={"trace": trace})
    try:
        response = await _head(client.send(request, stream=True), target.timeout, stop)
    except asyncio.TimeoutError:
        raise Unreachable(timeout_reason(done, target.timeout,
                                         target.url.startswith("https"))) from None
    except (httpx.TransportError, ssl.SSLError, OSError) as exc:
        raise Unreachable(describe_connect_error(exc)) from None

    try:
        sink.head(Head(time.perf_counter(), response.status_code, response.http_version,
                       list(response.headers.multi_items())))
        end = await _read_body(response, sink, t0 + window_s, stop)
        if abort == "rst" and end.by in ("client", "deadline"):
            _linger_zero(response)
        return end
    finally:
        # Closing may itself wait on a misbehaving peer; bound it.
        try:
            await asyncio.wait_for(response.aclose(), 2.0)
        except (asyncio.TimeoutError, httpx.HTTPError, OSError):
            pass


async def _head(send: Any, timeout: float, stop: asyncio.Event | None) -> httpx.Response:
    """The response head within `timeout`, unless `stop` comes first (interrupt.Stopped)."""
    if stop is None:
        return await _head_within(send, timeout)
    return await unless_stopped(_head_within(send, timeout), stop,
                                discard=lambda response: response.aclose())


async def _head_within(send: Any, timeout: float) -> httpx.Response:
    """`send`'s response within `timeout` (asyncio.TimeoutError after it), and a cancel of the
    caller always raised.

    Not asyncio.wait_for: up to Python 3.11 it returns the result when the cancel comes in the
    loop iteration the result does, and loses the cancel. Ctrl-C cancels an experiment at once,
    and the head arrives just as the server starts serving the stream, which is when a test (or a
    user) presses it: the cancelled `disconnect --after 30` then held its stream for 30 s."""
    task = asyncio.ensure_future(send)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        await _abandon(task)
        raise
    if not done:
        await _abandon(task)
        raise asyncio.TimeoutError
    return task.result()


async def _abandon(task: asyncio.Future) -> None:
    """Cancel a pending send; a response it produced all the same is closed."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is None:
        try:
            await asyncio.wait_for(task.result().aclose(), 2.0)
        except (asyncio.TimeoutError, httpx.HTTPError, OSError):
            pass


def _linger_zero(response: httpx.Response) -> None:
    """Make the coming close of this response's connection a TCP reset (SO_LINGER 0).

    httpx has no abort; httpcore exposes the socket through the network_stream extension.
    Closing a response whose body is unread closes its connection (no keep-alive here)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


async def _read_body(response: httpx.Response, sink: Sink, deadline: float,
                     stop: asyncio.Event | None) -> End:
    end: list[End] = []

    async def pump() -> None:
        perf = time.perf_counter
        try:
            async for data in response.aiter_bytes():
                if data and not sink.chunk(perf(), data):
                    end.append(End("client", perf(), "enough data"))
                    return
            end.append(End("server", perf(), "the server ended the response body"))
        except httpx.HTTPError as exc:
            end.append(End("transport", perf(), describe_connect_error(exc)))
        except OSError as exc:
            end.append(End("transport", perf(), str(exc)))

    # One task for the whole body rather than a timeout per read: cheaper on a firehose.
    task = asyncio.ensure_future(pump())
    waiters: set[asyncio.Future] = {task}
    stopper = None
    if stop is not None:
        stopper = asyncio.ensure_future(stop.wait())
        waiters.add(stopper)
    try:
        remaining = max(0.0, deadline - time.perf_counter())
        await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for fut in waiters:
            if not fut.done():
                fut.cancel()
        for fut in waiters:
            try:
                await asyncio.wait_for(fut, 1.0)
            except (asyncio.CancelledError, asyncio.TimeoutError, Exception):
                pass
    if end:
        return end[0]
    if stopper is not None and stopper.done() and not stopper.cancelled():
        return End("client", time.perf_counter(), "the experiment ended the stream")
    return End("deadline", time.perf_counter(), "the observation window ended")
