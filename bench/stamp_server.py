"""A minimal SSE server for load benchmarks: answers every request with an endless
text/event-stream and writes `: t=<perf_counter>` every --interval seconds to each stream, at
a random phase per stream (one timer for all streams: a 10 ms wheel, no task per stream).

The lab's uvicorn route cannot serve 10,000 streams on shared cores (the server would be
what is measured); this one costs a few µs per heartbeat.

    python bench/stamp_server.py --port 8123 [--interval 1] [--processes 2]

--processes K forks K servers sharing the port (SO_REUSEPORT). It prints "ready" once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import socket
import sys
import time

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")
SLOT_S = 0.01


class Wheel:
    def __init__(self, interval: float) -> None:
        self.slots: list[set[asyncio.Transport]] = [set() for _ in range(
            max(1, round(interval / SLOT_S)))]

    def add(self, transport: asyncio.Transport) -> set[asyncio.Transport]:
        slot = random.choice(self.slots)
        slot.add(transport)
        return slot

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        perf = time.perf_counter
        while True:
            i += 1
            delay = start + i * SLOT_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for t in list(self.slots[i % len(self.slots)]):
                line = b": t=%.6f\n" % perf()
                t.write(b"%x\r\n%s\r\n" % (len(line), line))


class Stream(asyncio.Protocol):
    def __init__(self, wheel: Wheel) -> None:
        self.wheel = wheel
        self.buf = b""
        self.slot: set[asyncio.Transport] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.slot is not None:
            return
        self.buf += data
        if b"\r\n\r\n" in self.buf:
            assert self.transport is not None
            line = b": t=%.6f\n" % time.perf_counter()
            self.transport.write(HEAD + b"%x\r\n%s\r\n" % (len(line), line))
            self.slot = self.wheel.add(self.transport)
            self.buf = b""
        elif len(self.buf) > 65536:
            self.transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slot is not None:
            self.slot.discard(self.transport)  # type: ignore[arg-type]


async def serve(sock: socket.socket, interval: float) -> None:
    loop = asyncio.get_running_loop()
    wheel = Wheel(interval)
    server = await loop.create_server(lambda: Stream(wheel), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ticker = asyncio.ensure_future(wheel.run())
    await stop.wait()
    ticker.cancel()
    server.close()


def _run(sock: socket.socket, interval: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(sock, interval))
    else:
        uvloop.run(serve(sock, interval))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--processes", type=int, default=1)
    args = ap.parse_args()
    socks = []
    for _ in range(args.processes):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", args.port))
        s.listen(4096)
        socks.append(s)
    children = []
    for s in socks[1:]:
        pid = os.fork()
        if pid == 0:
            _run(s, args.interval)
            os._exit(0)
        children.append(pid)
    print("ready", flush=True)
    try:
        _run(socks[0], args.interval)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
