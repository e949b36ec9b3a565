"""Wire-level tests of the lab (httpx straight at the server, no sse-doctor CLI).

Timing assertions are lenient lower bounds only: they never require anything to be fast.
"""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import httpx_sse
import pytest

from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabScenario, LabServer, create_app
from sse_doctor.lab.hint_routes import HINT_HANDLERS
from sse_doctor.lab.llm_routes import LLM_HANDLERS
from sse_doctor.lab.mcp_routes import VARIANTS as MCP_VARIANTS
from sse_doctor.lab.sse_routes import DELAYED_HEADERS_SECONDS, HANDLERS, ShutdownSignal
from sse_doctor.lab.ws_routes import WS_HANDLERS
from tests.support import stop_with_ctrl_c

TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    with LabServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(lab: LabServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lab.base_url, timeout=TIMEOUT) as c:
        yield c


@dataclass
class Capture:
    status: int
    headers: httpx.Headers
    headers_after: float  # seconds from sending the request to having the response headers
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (seconds, raw bytes)
    ended: bool = False  # the body ended cleanly
    error: Exception | None = None

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    @property
    def blocks(self) -> list[bytes]:
        """Complete blank-line-terminated blocks that carry at least one field."""
        parts = self.body.split(b"\n\n")[:-1]
        return [p.strip(b"\n") for p in parts if p.strip(b"\n")]


def capture(
    client: httpx.Client,
    path: str,
    *,
    seconds: float = 5.0,
    until: bytes | None = None,
    method: str = "GET",
    decoded: bool = False,
    **kwargs: object,
) -> Capture:
    """Read a response for ``seconds`` (or until the body contains ``until``, or ends)."""
    start = time.monotonic()
    seen = bytearray()
    with client.stream(method, path, **kwargs) as response:  # type: ignore[arg-type]
        cap = Capture(response.status_code, response.headers, time.monotonic() - start)
        reader = response.iter_bytes() if decoded else response.iter_raw()
        try:
            for chunk in reader:
                cap.chunks.append((time.monotonic() - start, chunk))
                seen += chunk
                if until is not None and until in seen[-(len(chunk) + len(until)) :]:
                    return cap
                if time.monotonic() - start >= seconds:
                    return cap
            cap.ended = True
        except httpx.HTTPError as exc:
            cap.error = exc
    return cap


def field_values(block: bytes, name: bytes) -> list[bytes]:
    prefix = name + b": "
    return [line[len(prefix) :] for line in block.split(b"\n") if line.startswith(prefix)]


def event_ids(cap: Capture) -> list[int]:
    return [int(v) for b in cap.blocks for v in field_values(b, b"id")]


def assert_sse_headers(cap: Capture) -> None:
    assert cap.status == 200
    assert cap.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert cap.headers["cache-control"] == "no-cache"
    assert cap.headers["x-accel-buffering"] == "no"


# ---------------------------------------------------------------------------------------------
# The scenario table


EXPECTED_TABLE = {
    "healthy": (set(), ()),
    "http-error": ({"http-error"}, ()),
    "wrong-content-type": ({"not-event-stream"}, ()),
    "no-cache-missing": ({"missing-no-cache"}, ()),
    "gzip": ({"compressed-stream"}, ()),
    "delayed-headers": ({"delayed-headers"}, ()),
    "buffered": ({"buffered-delivery"}, ()),
    "no-heartbeat": ({"no-heartbeat"}, ()),
    "stalled": ({"stalled-stream"}, ()),
    "stale": ({"repeated-payload"}, ()),
    "no-completed": ({"missing-expected-event"}, ("--expect-event", "completed")),
    "endless": ({"no-server-timeout"}, ("--expect-close", "2")),
    "ends-early": ({"premature-close"}, ("--expect-event", "completed")),
    "crash": ({"premature-close"}, ()),
    "finite": ({"stream-ended"}, ()),
    "low-retry": ({"low-retry"}, ()),
    "no-ids": ({"no-event-ids"}, ()),
    "malformed": ({"malformed-stream"}, ()),
    "divergence": ({"client-divergence"}, ()),
    "garbage": ({"malformed-stream"}, ()),
    "huge-line": ({"malformed-stream"}, ()),
    "silent": ({"no-heartbeat"}, ()),
    "mcp-session-required": ({"http-error", "profile-hint"}, ()),
}


def _profiled(s: LabScenario) -> bool:
    return "--profile" in s.probe_args


def test_scenario_table_is_the_contract() -> None:
    assert DEMO_ARGS == ("--duration", "4", "--idle-limit", "2")
    by_name = {s.name: s for s in SCENARIOS}
    assert len(by_name) == len(SCENARIOS)
    assert len({s.path for s in SCENARIOS}) == len(SCENARIOS)
    demo = {s.name: (set(s.expect), s.probe_args) for s in SCENARIOS
            if s.in_demo and s.protocol == "sse" and not s.name.startswith("llm-")
            and not _profiled(s)}
    assert demo == EXPECTED_TABLE
    # Protocol profiles' routes (lab/protocol_routes.py): each gets exactly its profile's codes
    for s in filter(_profiled, SCENARIOS):
        profile = s.probe_args[s.probe_args.index("--profile") + 1]
        if profile not in ("socketio", "graphql"):
            continue  # the llm and mcp routes: checked below and in their own tests
        assert s.name.startswith(profile)
        assert all(c.startswith(profile + "-") for c in s.expect)
    # Utilities outside the demo may grow; these two are relied on by other tests.
    assert {s.name for s in SCENARIOS if not s.in_demo} >= {"firehose", "echo"}
    for s in SCENARIOS:
        assert isinstance(s, LabScenario)
        assert s.models and "\n" not in s.models
        assert isinstance(s.expect, frozenset)
        if s.protocol == "mcp":  # MCP servers, driven by --profile mcp (lab/mcp_routes.py)
            variant = s.name.removeprefix("mcp-")
            assert s.path == f"/mcp/{variant}" and variant in MCP_VARIANTS
            assert s.probe_args == ("--profile", "mcp")
            continue
        assert s.protocol in ("sse", "ws")
        if s.name.startswith("llm-"):  # LLM routes end like the real APIs' paths
            assert s.path.startswith("/llm/") and s.name in LLM_HANDLERS
        else:
            assert s.path == f"/{s.protocol}/{s.name}"
            assert s.name in ({**HANDLERS, **HINT_HANDLERS} if s.protocol == "sse"
                              else WS_HANDLERS)


def test_index_lists_all_scenarios(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    listed = response.json()
    assert [item["name"] for item in listed] == [s.name for s in SCENARIOS]
    healthy = listed[0]
    assert healthy == {
        "name": "healthy",
        "path": "/sse/healthy",
        "protocol": "sse",
        "models": SCENARIOS[0].models,
        "expect": [],
        "probe_args": [],
        "in_demo": True,
    }
    endless = next(item for item in listed if item["name"] == "endless")
    assert endless["expect"] == ["no-server-timeout"]
    assert endless["probe_args"] == ["--expect-close", "2"]


def test_create_app_routes_every_scenario() -> None:
    paths = {getattr(route, "path", None) for route in create_app().routes}
    assert paths >= {"/"} | {s.path for s in SCENARIOS}


# ---------------------------------------------------------------------------------------------
# Server lifecycle


def test_server_binds_random_port_before_start_and_stops_with_open_streams() -> None:
    server = LabServer()
    assert server.port > 0
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.url("/sse/healthy") == server.base_url + "/sse/healthy"
    with pytest.raises(httpx.ConnectError):  # bound, not serving yet
        httpx.get(server.base_url, timeout=1.0)
    server.start()
    try:
        assert server.running
        with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as c:
            endless = c.send(c.build_request("GET", "/sse/endless"), stream=True)
            silent = c.send(c.build_request("GET", "/sse/silent"), stream=True)
            endless_chunks = endless.iter_raw()
            assert b"id: 1" in next(endless_chunks)
            assert silent.status_code == 200
            server.stop()
            assert not server._thread.is_alive()  # type: ignore[union-attr]
            # The open streams were ended by the server rather than left hanging.
            for _ in endless_chunks:
                pass
            for _ in silent.iter_raw():
                pass
            endless.close()
            silent.close()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.base_url, timeout=1.0)
    finally:
        server.stop()


def test_stop_does_not_hang_when_a_stream_ignores_the_shutdown_signal() -> None:
    with LabServer() as server:
        with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as c:
            response = c.send(c.build_request("GET", "/sse/endless"), stream=True)
            chunks = response.iter_raw()
            assert b"id: 1" in next(chunks)
            # The open stream waits on the old signal, which stop() will not set: this
            # leaves it to uvicorn's graceful-shutdown timeout and task cancellation.
            server.app.state.lab_shutdown = ShutdownSignal()
            server.stop(timeout=5.0)
            assert not server._thread.is_alive()  # type: ignore[union-attr]
            with pytest.raises(httpx.RemoteProtocolError):  # cancelled mid-body
                for _ in chunks:
                    pass
            response.close()


def test_port_in_use_fails_at_construction() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            LabServer(port=taken.getsockname()[1])


def test_handlers_end_when_clients_disconnect(lab: LabServer) -> None:
    # Let requests of earlier tests finish first.
    deadline = time.monotonic() + 5.0
    while lab.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    before = lab.active_requests
    with httpx.Client(base_url=lab.base_url, timeout=TIMEOUT) as c:
        silent = c.send(c.build_request("GET", "/sse/silent"), stream=True)
        endless = c.send(c.build_request("GET", "/sse/endless"), stream=True)
        endless_chunks = endless.iter_raw()  # keep a reference: dropping it closes the stream
        assert b"id: 1" in next(endless_chunks)
        assert silent.status_code == 200
        assert lab.active_requests >= before + 2
    # Leaving the client closed both connections: the handlers must finish.
    deadline = time.monotonic() + 5.0
    while lab.active_requests > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.active_requests <= before


def test_handler_ends_when_client_leaves_before_delayed_headers(lab: LabServer) -> None:
    deadline = time.monotonic() + 5.0
    while lab.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    before = lab.active_requests
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(lab.url("/sse/delayed-headers"), timeout=0.3)
    deadline = time.monotonic() + 5.0
    while lab.active_requests > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.active_requests <= before


# ---------------------------------------------------------------------------------------------
# Routes


def test_healthy(client: httpx.Client) -> None:
    cap = capture(client, "/sse/healthy", until=b": heartbeat\n")
    assert_sse_headers(cap)
    assert cap.body.startswith(b"retry: 3000\nid: 1\nevent: tick\ndata: {")
    assert cap.body.count(b"retry:") == 1
    ids = event_ids(cap)
    assert len(ids) >= 3 and ids == list(range(1, len(ids) + 1))
    first = json.loads(field_values(cap.blocks[0], b"data")[0])
    assert first["counter"] == 1 and isinstance(first["timestamp"], float)
    assert b": heartbeat\n" in cap.body
    # The comment is a lone line: no blank line after it (a blank line would be a
    # dispatch that httpx-sse turns into an empty event).
    assert b": heartbeat\n\n" not in cap.body
    # Events are spread over time, not sent in one go.
    assert cap.chunks[-1][0] - cap.chunks[0][0] >= 0.4


def test_http_error(client: httpx.Client) -> None:
    response = client.get("/sse/http-error")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "internal"


def test_wrong_content_type(client: httpx.Client) -> None:
    cap = capture(client, "/sse/wrong-content-type", until=b"id: 2\n")
    assert cap.status == 200
    assert cap.headers["content-type"].startswith("text/plain")
    assert b"event: tick\ndata: " in cap.body


def test_no_cache_missing(client: httpx.Client) -> None:
    cap = capture(client, "/sse/no-cache-missing", until=b"id: 2\n")
    assert cap.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "cache-control" not in cap.headers
    assert event_ids(cap)[:2] == [1, 2]


def test_gzip_is_compressed_and_flushed_per_event(client: httpx.Client) -> None:
    raw = capture(client, "/sse/gzip", seconds=0)
    assert_sse_headers(raw)
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.body.startswith(b"\x1f\x8b")  # gzip magic, not plain text
    # Decoded by httpx: the events arrive while the (endless) stream is open, so each one
    # was flushed rather than held in the compressor.
    cap = capture(client, "/sse/gzip", until=b"id: 3\n", decoded=True)
    assert cap.body.startswith(b"retry: 3000\nid: 1\nevent: tick\n")
    assert event_ids(cap)[:3] == [1, 2, 3]


def test_delayed_headers(client: httpx.Client) -> None:
    cap = capture(client, "/sse/delayed-headers", until=b"id: 1\n")
    assert_sse_headers(cap)
    assert cap.headers_after >= DELAYED_HEADERS_SECONDS - 0.05
    # The first body chunk carries the first event, produced when the headers went out.
    assert cap.chunks[0][1].startswith(b"retry: 3000\nid: 1\nevent: tick\n")


def test_buffered_delivers_bursts_of_ten_events(client: httpx.Client) -> None:
    cap = capture(client, "/sse/buffered", until=b"id: 20\n")
    assert_sse_headers(cap)
    assert event_ids(cap)[:20] == list(range(1, 21))
    per_read = [chunk.count(b"event: tick") for _, chunk in cap.chunks]
    assert per_read and all(n >= 5 for n in per_read), per_read
    assert sum(per_read) >= 20
    assert b": heartbeat\n" in cap.body  # heartbeats travel inside the batch
    # Events are made every 0.1 s, so a batch of 10 cannot be complete before ~0.9 s.
    assert cap.chunks[0][0] >= 0.8


def test_headers_are_sent_before_any_body_byte(client: httpx.Client) -> None:
    """uvicorn writes the headers on http.response.start, without waiting for a body."""
    with client.stream("GET", "/sse/silent", timeout=httpx.Timeout(5.0, read=1.0)) as r:
        # We got here, so the headers arrived on their own.
        assert_sse_headers(Capture(r.status_code, r.headers, 0.0))
        with pytest.raises(httpx.ReadTimeout):
            for chunk in r.iter_raw():
                pytest.fail(f"the silent route sent body bytes: {chunk!r}")


def test_no_heartbeat_goes_silent(client: httpx.Client) -> None:
    with client.stream("GET", "/sse/no-heartbeat", timeout=httpx.Timeout(5.0, read=2.0)) as r:
        chunks = r.iter_raw()
        assert next(chunks).startswith(b"retry: 3000\nid: 1\n")
        with pytest.raises(httpx.ReadTimeout):  # no byte at all for >= 2 s
            next(chunks)


def test_stalled_sends_only_pings_after_the_first_event(client: httpx.Client) -> None:
    cap = capture(client, "/sse/stalled", seconds=0.95)
    assert_sse_headers(cap)
    assert cap.blocks == [b'retry: 3000\nid: 1\nevent: progress\ndata: {"step": 1}']
    assert cap.body.count(b": ping\n") >= 3


def test_stale_repeats_the_payload_with_new_ids(client: httpx.Client) -> None:
    cap = capture(client, "/sse/stale", until=b"id: 4\n")
    ids = event_ids(cap)
    assert ids[:4] == [1, 2, 3, 4]
    data = {v for b in cap.blocks for v in field_values(b, b"data")}
    assert data == {b'{"price": 100.0}'}
    assert all(field_values(b, b"event") == [b"price"] for b in cap.blocks)


def test_no_completed_progresses_forever(client: httpx.Client) -> None:
    cap = capture(client, "/sse/no-completed", until=b"id: 3\n")
    steps = [json.loads(v)["step"] for b in cap.blocks for v in field_values(b, b"data")]
    assert steps[:3] == [1, 2, 3]
    assert not cap.ended and b"completed" not in cap.body


def test_endless_is_healthy_and_open(client: httpx.Client) -> None:
    cap = capture(client, "/sse/endless", seconds=0.8)
    assert_sse_headers(cap)
    assert not cap.ended and cap.error is None
    assert len(event_ids(cap)) >= 3


def test_ends_early_ends_cleanly_without_completed(client: httpx.Client) -> None:
    cap = capture(client, "/sse/ends-early")
    assert_sse_headers(cap)
    assert cap.ended and cap.error is None
    assert event_ids(cap) == [1, 2, 3]
    assert all(field_values(b, b"event") == [b"progress"] for b in cap.blocks)
    assert b"completed" not in cap.body


def test_finite_ends_cleanly_after_five_events(client: httpx.Client) -> None:
    cap = capture(client, "/sse/finite")
    assert_sse_headers(cap)
    assert cap.ended and cap.error is None
    assert event_ids(cap) == [1, 2, 3, 4, 5]


def test_crash_drops_the_connection_mid_body(client: httpx.Client) -> None:
    cap = capture(client, "/sse/crash")
    assert_sse_headers(cap)
    assert isinstance(cap.error, httpx.RemoteProtocolError)
    assert not cap.ended
    assert event_ids(cap) == [1, 2, 3]


def test_low_retry(client: httpx.Client) -> None:
    cap = capture(client, "/sse/low-retry", until=b"id: 2\n")
    assert cap.body.startswith(b"retry: 200\nid: 1\n")


def test_no_ids(client: httpx.Client) -> None:
    cap = capture(client, "/sse/no-ids", seconds=0.6)
    assert len(cap.blocks) >= 2
    assert b"id:" not in cap.body
    assert cap.body.startswith(b"retry: 3000\nevent: tick\n")


def test_malformed(client: httpx.Client) -> None:
    cap = capture(client, "/sse/malformed", until=b"id: 5\n")
    assert_sse_headers(cap)
    assert b"\nData: " in cap.body
    assert b"\xff\xfe" in cap.body
    with pytest.raises(UnicodeDecodeError):
        cap.body.decode("utf-8")
    events = [b for b in cap.blocks if b"event: tick" in b]
    assert len(events) >= 4
    assert all(len(field_values(b, b"id")) == 1 for b in events)
    assert all(field_values(b, b"data") for b in events)  # every event keeps a real data line


def test_divergence_dataless_ping_events(client: httpx.Client) -> None:
    cap = capture(client, "/sse/divergence", seconds=1.1)
    assert event_ids(cap)[:2] == [1, 2]
    assert b"\n\nevent: ping\n\n" in cap.body  # an event typed 'ping' with no data line
    # httpx-sse dispatches each as a 'ping' event with empty data (browsers drop them).
    with httpx_sse.connect_sse(client, "GET", "/sse/divergence") as source:
        seen = []
        for sse in source.iter_sse():
            seen.append(sse)
            if len(seen) >= 3:
                break
    assert seen[0].event == "tick" and seen[0].id == "1"
    assert any(sse.data == "" and sse.event == "ping" for sse in seen[1:])


def test_garbage_is_deterministic_binary(client: httpx.Client) -> None:
    first = capture(client, "/sse/garbage", seconds=0)
    second = capture(client, "/sse/garbage", seconds=0)
    assert_sse_headers(first)
    n = min(len(first.body), len(second.body), 4096)
    assert n > 0 and first.body[:n] == second.body[:n]
    with pytest.raises(UnicodeDecodeError):
        capture(client, "/sse/garbage", seconds=0.25).body.decode("utf-8")


def test_huge_line(client: httpx.Client) -> None:
    cap = capture(client, "/sse/huge-line", until=b"\nid: 2\n", seconds=30)
    assert_sse_headers(cap)
    body = cap.body
    assert body.startswith(b"retry: 3000\nid: 1\nevent: huge\ndata: xxxx")
    line_end = body.index(b"\n\n")
    huge = body[:line_end].split(b"\n")[-1]
    assert len(huge) >= 10 * 1024 * 1024
    assert b"\nid: 2\nevent: tick\n" in body


def test_firehose(client: httpx.Client) -> None:
    cap = capture(client, "/sse/firehose?events=20000&size=50", seconds=60)
    assert_sse_headers(cap)
    assert cap.ended and cap.error is None
    blocks = cap.blocks
    assert len(blocks) == 20000
    assert blocks[0] == b"retry: 3000\nid: 1\ndata: " + b"x" * 50
    assert blocks[-1] == b"id: 20000\ndata: " + b"x" * 50
    assert event_ids(cap) == list(range(1, 20001))


def test_firehose_rejects_bad_parameters(client: httpx.Client) -> None:
    assert client.get("/sse/firehose?events=lots").status_code == 400
    assert client.get("/sse/firehose?size=-1").status_code == 400


def test_echo_reflects_headers_query_and_post_body(client: httpx.Client) -> None:
    cap = capture(
        client,
        "/sse/echo?token=abc&x=1",
        method="POST",
        content=b'{"hello": "world"}',
        headers={"Authorization": "Bearer s3cret", "X-Lab": "yes"},
    )
    assert_sse_headers(cap)
    assert cap.ended
    first = cap.blocks[0]
    assert field_values(first, b"event") == [b"echo"]
    info = json.loads(field_values(first, b"data")[0])
    assert info["method"] == "POST"
    assert info["headers"]["authorization"] == "Bearer s3cret"
    assert info["headers"]["x-lab"] == "yes"
    assert info["query"] == {"token": "abc", "x": "1"}
    assert info["body"] == '{"hello": "world"}'
    assert event_ids(cap) == [1, 2, 3, 4, 5, 6]
    assert sum(field_values(b, b"event") == [b"tick"] for b in cap.blocks) == 5


def test_echo_get(client: httpx.Client) -> None:
    cap = capture(client, "/sse/echo", until=b"id: 1\n")
    info = json.loads(field_values(cap.blocks[0], b"data")[0])
    assert info["method"] == "GET" and info["body"] == ""


# ---------------------------------------------------------------------------------------------
# Pages for a browser (tests/support/record_har.py records their HARs; test_har.py replays them)


def test_browser_pages_serve_their_client_code_and_streams(client: httpx.Client) -> None:
    from sse_doctor.lab.browser_routes import NO_BACKOFF_RETRY_MS, PAGES

    for page in PAGES:
        response = client.get(page.path)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        assert "<script>" in response.text
    # Every page but the correct client has a diagnosis.
    assert [p.path for p in PAGES if not p.expect] == ["/browser/singleton"]
    assert "new EventSource('/browser/leaky-tab/events')" in client.get(
        "/browser/leaky-tab").text
    assert "/ws/healthy-echo" in client.get("/browser/double-socket").text
    # The no-backoff stream: a retry, one event, and the end (the browser reopens it).
    short = client.get("/browser/no-backoff/events")
    assert short.headers["content-type"].startswith("text/event-stream")
    assert short.text == f"retry: {NO_BACKOFF_RETRY_MS}\ndata: done\n\n"
    with client.stream("GET", "/browser/leaky-tab/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert b"data:" in next(stream.iter_bytes())  # a live stream: one read is enough
    # Stacked timers: one event, then the stream ends (each loop reopens it on a timer).
    short = client.get("/browser/stacked-timers/events")
    assert short.headers["content-type"].startswith("text/event-stream")
    assert short.text == "data: hello\n\n"
    page = client.get("/browser/stacked-timers").text
    assert "setTimeout(connect, 100)" in page and "i < 2" in page
    with client.stream("GET", "/browser/singleton/events") as stream:
        assert b"event: tick" in next(stream.iter_bytes())
    assert "delay * 2" in client.get("/browser/singleton").text


def test_lab_command_lists_the_browser_pages() -> None:
    import os
    import subprocess
    import sys

    # A wide terminal: rich wraps table cells at 80 columns otherwise.
    proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", "lab"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "250"})
    try:
        lines = []
        for line in proc.stdout:  # the listing is printed before serving starts
            lines.append(line)
            if "/browser/no-backoff" in line:
                break
        text = "".join(lines)
        assert "/browser/leaky-tab" in text and "sse-doctor har" in text
    finally:
        stop_with_ctrl_c(proc)
        proc.communicate(timeout=20)


@pytest.mark.parametrize("port", [8, 18080, 65535])
def test_lab_listing_shows_every_path_whole_in_80_columns(port: int) -> None:
    from rich.console import Console

    from sse_doctor.lab.browser_routes import PAGES
    from sse_doctor.lab.listing import lab_listing

    base = f"http://127.0.0.1:{port}"
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(lab_listing(base))
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in text  # nothing cut
    assert lines[0].startswith(f"sse-doctor lab on {base}")
    assert f"ws://127.0.0.1:{port}" in text  # where the /ws/ paths go
    first_words = [line.split()[0] for line in lines if line.split()]
    for path in [s.path for s in SCENARIOS] + [p.path for p in PAGES]:
        assert path in first_words, path  # whole, at the start of its row
    assert sum(line.count(base) for line in lines) == 2  # once above, once in the example
    for s in SCENARIOS:
        for code in s.expect:
            assert code in first_words or any(code in line.split() for line in lines), code
