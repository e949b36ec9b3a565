"""The load worker's shell, run for real: a forked worker process (as `sse-doctor load` forks
it) against an SSE server on 127.0.0.1 that records who connected."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time

from sse_doctor.load.driver import WorkerConfig, worker_main
from sse_doctor.load.streams import LagSpec, LoadTarget

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")


class PeerServer:
    """Answers every request with an endless SSE stream (one stamped comment a few times a
    second) and records each connection's source address."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the test server did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            self.loop.create_server(lambda: _Stream(self), "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class _Stream(asyncio.Protocol):
    def __init__(self, server: PeerServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.ticker: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.peers.append(transport.get_extra_info("peername")[0])

    def data_received(self, data: bytes) -> None:
        if self.ticker is None and b"\r\n\r\n" in data:
            self.transport.write(HEAD)  # type: ignore[union-attr]
            self._beat()

    def _beat(self) -> None:
        line = b": t=%.6f\n" % time.perf_counter()
        self.transport.write(b"%x\r\n%s\r\n" % (len(line), line))  # type: ignore[union-attr]
        self.ticker = asyncio.get_running_loop().call_later(0.2, self._beat)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ticker is not None:
            self.ticker.cancel()


def run_worker(cfg: WorkerConfig) -> dict:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=worker_main, args=(cfg, child), daemon=True)
    proc.start()
    child.close()
    try:
        while True:
            assert parent.poll(30), "the worker did not report"
            kind, _, payload = parent.recv()
            if kind != "sample":
                assert kind == "final", payload
                return payload
    finally:
        proc.join(10)
        parent.close()


def config(port: int, share: int, **kw) -> WorkerConfig:
    target = LoadTarget(url=f"http://127.0.0.1:{port}/", protocol="sse", host="127.0.0.1",
                        port=port, tls=False, timeout=5.0)
    args = dict(index=0, workers=1, target=target, share=share, ramp=200.0, hold_s=0.5,
                t0=time.perf_counter() + 0.2, start_s=0.0, reconnect=False,
                lag=LagSpec("perf"), max_inflight=share)
    return WorkerConfig(**{**args, **kw})


def test_past_a_span_of_streams_connects_come_from_the_next_loopback_address() -> None:
    # The kernel picks a connect's local port by scanning the ephemeral range; with about
    # half of it taken towards one destination, each connect scans thousands of ports
    # (seconds of blocked loop at 14,000 streams). Each 127.0.0.x source has its own range.
    server = PeerServer()
    try:
        final = run_worker(config(server.port, share=7, source_span=3))
    finally:
        server.stop()
    assert final["rec"]["counts"]["opened"] == 7
    assert final["rec"]["counts"]["failed"] == 0
    assert sorted(server.peers) == ["127.0.0.1"] * 3 + ["127.0.0.2"] * 3 + ["127.0.0.3"]


def test_workers_share_the_spans_by_their_global_stream_index() -> None:
    # worker 1 of 2 opens the fleet's streams 1, 3, 5, 7: with spans of 4, two come from
    # each of the first two addresses
    server = PeerServer()
    try:
        final = run_worker(config(server.port, share=4, source_span=4, index=1, workers=2))
    finally:
        server.stop()
    assert final["rec"]["counts"]["opened"] == 4
    assert sorted(server.peers) == ["127.0.0.1"] * 2 + ["127.0.0.2"] * 2


def test_a_holding_worker_still_stops_when_the_parent_asks() -> None:
    # While it only holds streams the worker sleeps until its next sample; the parent's
    # "stop" must wake it at once (the pipe is a loop reader), not at the end of the hold.
    server = PeerServer()
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=worker_main, args=(config(server.port, share=3, hold_s=600.0),
                                                  child), daemon=True)
    proc.start()
    child.close()
    try:
        while True:  # wait until all three are open (the hold has begun)
            assert parent.poll(30), "no sample"
            kind, _, payload = parent.recv()
            assert kind == "sample", payload
            if payload["open"] == 3:
                break
        parent.send("stop")
        while True:
            assert parent.poll(15), "the worker did not stop when asked"
            kind, _, payload = parent.recv()
            if kind != "sample":
                break
        assert kind == "final" and payload["interrupted"] is True
        assert payload["rec"]["counts"]["opened"] == 3
    finally:
        proc.join(10)
        parent.close()
        server.stop()
