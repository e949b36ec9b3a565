"""The lab's experiment routes, driven with plain httpx / websockets clients (no sse-doctor
experiment code): leaks where the route models one, none where it does not.

Waits poll the lab's own state (or the server's running handlers) until a deadline; nothing
asserts how fast anything happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response as WsResponse
from websockets.uri import parse_uri

from sse_doctor.codes import REGISTRY
from sse_doctor.lab import LabServer, create_app
from sse_doctor.lab.experiment_routes import (
    ROUTE_NAMES,
    SESSION_TICKS,
    route_path,
    ticks,
)
from sse_doctor.lab.experiments import EXPERIMENTS, experiment_argv, get_experiment
from sse_doctor.lab.sse_routes import EventWriter

TIMEOUT = httpx.Timeout(5.0)
DEADLINE = 5.0
GAUGES = ("lab_open_streams", "lab_pending_sessions", "lab_temp_files", "lab_subscribers")


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    with LabServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(lab: LabServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lab.base_url, timeout=TIMEOUT) as c:
        yield c


def new_user() -> str:
    return "u-" + uuid.uuid4().hex[:10]


# ---------------------------------------------------------------------------------------------
# Helpers


def state(client: httpx.Client, route: str) -> dict[str, Any]:
    return client.get("/lab/state").json()[route]


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() >= end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_handlers_done(lab: LabServer, before: int) -> None:
    """Until the server runs no more request handlers than ``before``: the handler of the
    connection the test just dropped has finished, whatever it did on the way out."""
    wait_for(lambda: lab.active_requests <= before, "the dropped stream's handler to finish")


def open_stream(client: httpx.Client, path: str, **kwargs: Any) -> Stream:
    return Stream(client.send(client.build_request("GET", path, **kwargs), stream=True))


class Stream:
    """An open SSE response and its raw bytes so far, read until a marker shows up.

    It keeps the response's byte iterator: dropping that iterator would close the stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        self.chunks = response.iter_raw()
        self.body = b""

    def close(self, *, reset: bool = False) -> None:
        """Close the connection; ``reset``: with a TCP reset (SO_LINGER 0), as when a client
        process dies."""
        if reset:
            sock = self.response.extensions["network_stream"].get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.response.close()

    def until(self, needle: bytes) -> bytes:
        while needle not in self.body:
            self.body += next(self.chunks)
        return self.body

    def until_ticks(self, n: int) -> bytes:
        while self.body.count(b"event: tick") < n:
            self.body += next(self.chunks)
        return self.body

    def rest(self) -> bytes:
        """Everything up to the clean end of the body (raises if the body breaks instead)."""
        for chunk in self.chunks:
            self.body += chunk
        return self.body


def blocks(body: bytes) -> list[bytes]:
    return [b.strip(b"\n") for b in body.split(b"\n\n")[:-1] if b.strip(b"\n")]


def field(block: bytes, name: bytes) -> bytes | None:
    for line in block.split(b"\n"):
        if line.startswith(name + b": "):
            return line[len(name) + 2 :]
    return None


def tick_blocks(body: bytes) -> dict[int, bytes]:
    """id -> the event's block without its retry line, for tick events."""
    out: dict[int, bytes] = {}
    for block in blocks(body):
        if field(block, b"event") == b"tick":
            lines = [ln for ln in block.split(b"\n") if not ln.startswith(b"retry:")]
            out[int(field(block, b"id") or b"0")] = b"\n".join(lines)
    return out


def server_sockets(port: int, client_port: int) -> list[str]:
    """States of the lab's sockets (this process) talking to the client on ``client_port``."""
    return [c.status for c in psutil.Process().net_connections(kind="tcp")
            if c.laddr and c.laddr.port == port and c.raddr and c.raddr.port == client_port]


# ---------------------------------------------------------------------------------------------
# State endpoints


def test_metrics_and_state_start_at_zero_and_parse() -> None:
    with LabServer() as fresh, httpx.Client(base_url=fresh.base_url, timeout=TIMEOUT) as c:
        response = c.get("/lab/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        assert set(GAUGES) <= set(families)
        for gauge in GAUGES:
            assert families[gauge].type == "gauge"
            samples = {s.labels["route"]: s.value for s in families[gauge].samples}
            assert samples == dict.fromkeys(ROUTE_NAMES, 0.0)
        snapshot = c.get("/lab/state").json()
        assert set(snapshot) == set(ROUTE_NAMES)
        for value in snapshot.values():
            assert value == {"open_streams": 0, "pending": [], "temp_files": 0,
                             "subscribers": 0}

        # A leaked session's temp file is a real file, and it goes when the server stops.
        user = new_user()
        stream = open_stream(c, f"/sse/leaky-session?user={user}")
        stream.until_ticks(1)
        stream.close()
        tmp = fresh.app.state.lab_experiments.temp_root
        assert tmp is not None
        files = [os.path.join(root, f) for root, _, names in os.walk(tmp) for f in names]
        assert len(files) == 1 and user in open(files[0], encoding="utf-8").read()
    assert not os.path.exists(tmp)


def gauge(client: httpx.Client, metric: str, route: str) -> float:
    text = client.get("/lab/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric and sample.labels.get("route") == route:
                return sample.value
    raise AssertionError(f"{metric}{{route={route!r}}} missing")


# ---------------------------------------------------------------------------------------------
# Session routes


def test_leaky_session_leaks_after_an_abrupt_drop(lab: LabServer, client: httpx.Client) -> None:
    user = new_user()
    before = state(client, "leaky-session")
    handlers = lab.active_requests
    stream = open_stream(client, f"/sse/leaky-session?user={user}")
    body = stream.until_ticks(2)
    assert stream.status_code == 200
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert body.startswith(b'retry: 3000\nid: 1\nevent: tick\ndata: {"n": 1}\n\n')
    during = state(client, "leaky-session")
    assert user in during["pending"]
    assert during["temp_files"] == before["temp_files"] + 1
    assert during["open_streams"] == before["open_streams"] + 1
    stream.close(reset=True)
    wait_handlers_done(lab, handlers)

    after = state(client, "leaky-session")
    assert user in after["pending"]
    assert after["temp_files"] == before["temp_files"] + 1
    assert after["open_streams"] == before["open_streams"] + 1
    assert gauge(client, "lab_pending_sessions", "leaky-session") == len(after["pending"])
    again = client.get(f"/sse/leaky-session?user={user}")
    assert again.status_code == 409
    assert again.json()["error"] == "FILE_PROCESSING" and again.json()["detail"]
    # Another user is not affected.
    other = open_stream(client, f"/sse/leaky-session?user={new_user()}")
    assert other.status_code == 200
    other.close()


def test_clean_session_is_released_after_an_abrupt_drop(lab: LabServer,
                                                        client: httpx.Client) -> None:
    user = new_user()
    before = state(client, "clean-session")
    stream = open_stream(client, f"/sse/clean-session?user={user}")
    stream.until_ticks(2)
    # One stream per user at a time is this server's policy.
    busy = client.get(f"/sse/clean-session?user={user}")
    assert busy.status_code == 409 and busy.json()["error"] == "FILE_PROCESSING"
    assert state(client, "clean-session")["temp_files"] == before["temp_files"] + 1
    stream.close(reset=True)
    wait_for(lambda: state(client, "clean-session") == before, "the session to be released")
    assert gauge(client, "lab_pending_sessions", "clean-session") == len(before["pending"])
    again = open_stream(client, f"/sse/clean-session?user={user}")
    assert again.status_code == 200
    assert b"event: tick" in again.until_ticks(1)
    again.close()
    wait_for(lambda: state(client, "clean-session") == before, "the second session's release")


def test_identity_is_query_then_cookie_then_header(client: httpx.Client) -> None:
    user = new_user()
    first = open_stream(client, "/sse/clean-session", headers={"X-User": user})
    try:
        first.until_ticks(1)
        assert user in state(client, "clean-session")["pending"]
        assert client.get(f"/sse/clean-session?user={user}").status_code == 409
        cookie = client.get("/sse/clean-session", headers={"Cookie": f"user={user}"})
        assert cookie.status_code == 409
        # The query wins over the header: this is another user.
        other = open_stream(client, f"/sse/clean-session?user={new_user()}",
                            headers={"X-User": user})
        assert other.status_code == 200
        other.close()
    finally:
        first.close()


# ---------------------------------------------------------------------------------------------
# Duplicates


def test_duplicates_unlimited_feeds_every_stream_the_same_events(client: httpx.Client) -> None:
    user = new_user()
    base = state(client, "duplicates-unlimited")["open_streams"]
    streams = [open_stream(client, f"/sse/duplicates-unlimited?user={user}") for _ in range(3)]
    try:
        readers = streams
        for reader in readers:
            assert reader.until(b"retry: 3000\n").startswith(b"retry: 3000\n")
            reader.until_ticks(1)
        assert state(client, "duplicates-unlimited")["open_streams"] == base + 3
        # All three are open now: from the latest first id on, everyone gets the same events.
        start = max(min(tick_blocks(r.body)) for r in readers)
        for reader in readers:
            reader.until(b"id: %d\n" % (start + 3))
        seen = [tick_blocks(r.body) for r in readers]
        wanted = range(start, start + 4)
        for ids in seen:
            assert set(wanted) <= set(ids)
        for n in wanted:
            assert seen[0][n] == seen[1][n] == seen[2][n]
            assert json.loads(field(seen[0][n], b"data") or b"") == {"n": n}
    finally:
        for s in streams:
            s.close()
    wait_for(lambda: state(client, "duplicates-unlimited")["open_streams"] == base,
             "the duplicate streams to be uncounted")


def test_newest_wins_ends_the_older_stream_with_replaced(client: httpx.Client) -> None:
    user = new_user()
    base = state(client, "newest-wins")["open_streams"]
    older = open_stream(client, f"/sse/newest-wins?user={user}")
    newer = None
    stranger = None
    try:
        old_reader = older
        old_reader.until_ticks(1)
        newer = open_stream(client, f"/sse/newest-wins?user={user}")
        new_reader = newer
        new_reader.until_ticks(1)
        body = old_reader.rest()  # ends cleanly: no exception from the read
        last = blocks(body)[-1]
        assert field(last, b"event") == b"replaced"
        assert b"newer stream" in (field(last, b"data") or b"")
        # Another user's stream does not replace this user's.
        stranger = open_stream(client, f"/sse/newest-wins?user={new_user()}")
        stranger.until_ticks(1)
        seen = new_reader.body.count(b"event: tick")
        assert new_reader.until_ticks(seen + 2).count(b"event: replaced") == 0
        assert state(client, "newest-wins")["open_streams"] == base + 2
    finally:
        for s in (older, newer, stranger):
            if s is not None:
                s.close()
    wait_for(lambda: state(client, "newest-wins")["open_streams"] == base,
             "the streams to be uncounted")


# ---------------------------------------------------------------------------------------------
# Resume


@pytest.mark.parametrize(
    ("route", "last_event_id", "first"),
    [
        ("resume-ignored", None, 1),
        ("resume-ignored", "7", 1),
        ("resume-supported", None, 1),
        ("resume-supported", "7", 8),
        ("resume-supported", "0", 1),
        ("resume-supported", "junk", 1),
        ("resume-gap", None, 1),
        ("resume-gap", "7", 13),
    ],
)
def test_resume_rules(client: httpx.Client, route: str, last_event_id: str | None,
                      first: int) -> None:
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    stream = open_stream(client, f"/sse/{route}", headers=headers)
    try:
        body = stream.until_ticks(3)
    finally:
        stream.close()
    assert body.startswith(b"retry: 3000\n")
    events = tick_blocks(body)
    ids = sorted(events)[:3]
    assert ids == [first, first + 1, first + 2]
    for n in ids:
        assert json.loads(field(events[n], b"data") or b"") == {"n": n}


# ---------------------------------------------------------------------------------------------
# Storm


def test_storm_leak_leaks_on_an_early_abort_only(lab: LabServer, client: httpx.Client) -> None:
    base = state(client, "storm-leak")["subscribers"]
    handlers = lab.active_requests
    early = open_stream(client, "/sse/storm-leak")
    assert early.status_code == 200  # headers arrived; the backlog is still loading
    early.close()
    wait_handlers_done(lab, handlers)
    assert state(client, "storm-leak")["subscribers"] == base + 1
    assert gauge(client, "lab_subscribers", "storm-leak") == base + 1

    late = open_stream(client, "/sse/storm-leak")
    late.until_ticks(1)  # past the backlog, inside the try/finally
    late.close()
    wait_handlers_done(lab, handlers)
    # The handler count can drop early when another test's stream ends meanwhile: the late
    # stream's own cleanup is what must come (the early one's leak stays).
    expected = {"open_streams": 0, "pending": [], "temp_files": 0, "subscribers": base + 1}
    wait_for(lambda: state(client, "storm-leak") == expected, "the late stream's cleanup")


def test_storm_clean_does_not_leak_on_an_early_abort(lab: LabServer,
                                                     client: httpx.Client) -> None:
    base = state(client, "storm-clean")["subscribers"]
    handlers = lab.active_requests
    for _ in range(3):
        early = open_stream(client, "/sse/storm-clean")
        assert early.status_code == 200
        early.close()
    wait_handlers_done(lab, handlers)
    # As above: the dropped streams' cleanup, not the handler count, must bring it back (a
    # leaking route never does, and the wait fails at its deadline).
    wait_for(lambda: state(client, "storm-clean")["subscribers"] == base,
             "storm-clean's subscribers back at the baseline")


# ---------------------------------------------------------------------------------------------
# WebSocket sessions


class RawWebSocket:
    """websockets' sans-I/O client over a socket this test owns, so it can drop the TCP
    connection without a close frame."""

    def __init__(self, url: str) -> None:
        uri = parse_uri(url)
        self.protocol = ClientProtocol(uri)
        self.sock = socket.create_connection((uri.host, uri.port), timeout=DEADLINE)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        self.messages: list[str] = []
        self.close_frame: Frame | None = None
        self.response: WsResponse | None = None
        while self.response is None:
            self.pump()
        assert self.response.status_code == 101

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)
            else:  # the protocol asks for a half-close
                self.sock.shutdown(socket.SHUT_WR)

    def pump(self) -> bool:
        """Read once; False at EOF."""
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if isinstance(event, WsResponse):
                self.response = event
            elif event.opcode is Opcode.TEXT:
                self.messages.append(event.data.decode())
            elif event.opcode is Opcode.CLOSE:
                self.close_frame = event
        self.flush()
        return bool(data)

    def until_messages(self, n: int) -> list[str]:
        while len(self.messages) < n:
            self.pump()
        return self.messages

    def drop(self) -> None:
        """End the TCP connection with a reset: no close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self, code: int = 1000) -> None:
        """The closing handshake, then the end of TCP."""
        self.protocol.send_close(code)
        self.flush()
        while self.pump():
            pass
        self.sock.close()


def ws_url(lab: LabServer, route: str, user: str) -> str:
    return lab.base_url.replace("http://", "ws://") + route_path(route) + f"?user={user}"


def test_ws_leaky_session_leaks_on_a_tcp_drop(lab: LabServer, client: httpx.Client) -> None:
    base = state(client, "ws-leaky-session")["open_streams"]
    handlers = lab.active_requests
    ws = RawWebSocket(ws_url(lab, "ws-leaky-session", new_user()))
    assert [json.loads(m) for m in ws.until_messages(2)] == [{"n": 1}, {"n": 2}]
    assert state(client, "ws-leaky-session")["open_streams"] == base + 1
    ws.drop()
    wait_handlers_done(lab, handlers)
    assert state(client, "ws-leaky-session")["open_streams"] == base + 1
    assert gauge(client, "lab_open_streams", "ws-leaky-session") == base + 1


def test_ws_leaky_session_cleans_up_on_a_close_frame(lab: LabServer,
                                                     client: httpx.Client) -> None:
    base = state(client, "ws-leaky-session")["open_streams"]
    ws = RawWebSocket(ws_url(lab, "ws-leaky-session", new_user()))
    ws.until_messages(1)
    assert state(client, "ws-leaky-session")["open_streams"] == base + 1
    ws.close(1000)
    assert ws.close_frame is not None  # the server answered the closing handshake
    wait_for(lambda: state(client, "ws-leaky-session")["open_streams"] == base,
             "the closed session to be released")


@pytest.mark.parametrize("how", ["drop", "close"])
def test_ws_clean_session_cleans_up_either_way(lab: LabServer, client: httpx.Client,
                                               how: str) -> None:
    base = state(client, "ws-clean-session")["open_streams"]
    ws = RawWebSocket(ws_url(lab, "ws-clean-session", new_user()))
    ws.until_messages(2)
    assert state(client, "ws-clean-session")["open_streams"] == base + 1
    ws.drop() if how == "drop" else ws.close(1000)
    wait_for(lambda: state(client, "ws-clean-session")["open_streams"] == base,
             "the session to be released")


# ---------------------------------------------------------------------------------------------
# CLOSE_WAIT


def _raw_get(lab: LabServer, path: str) -> tuple[socket.socket, bytes]:
    """A raw HTTP/1.1 GET; returns the socket once the headers and the first event are in."""
    sock = socket.create_connection(("127.0.0.1", lab.port), timeout=DEADLINE)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\nAccept: text/event-stream\r\n\r\n"
                 .encode())
    data = b""
    while b"event: tick" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed before the first event: {data!r}"
        data += chunk
    return sock, data


def test_close_wait_leaves_the_server_socket_in_close_wait(lab: LabServer,
                                                           client: httpx.Client) -> None:
    base = state(client, "close-wait")["open_streams"]
    sock, head = _raw_get(lab, f"/sse/close-wait?user={new_user()}")
    try:
        assert head.startswith(b"HTTP/1.1 200 ")
        client_port = sock.getsockname()[1]
        sock.shutdown(socket.SHUT_WR)  # the client's FIN
        wait_for(lambda: server_sockets(lab.port, client_port) == ["CLOSE_WAIT"],
                 "the server's socket to reach CLOSE_WAIT")
        # The handler has not noticed: it still counts the stream.
        assert state(client, "close-wait")["open_streams"] == base + 1
    finally:
        sock.close()


def test_fin_on_an_ordinary_route_closes_the_server_socket(lab: LabServer,
                                                           client: httpx.Client) -> None:
    before = state(client, "clean-session")
    sock, _ = _raw_get(lab, f"/sse/clean-session?user={new_user()}")
    try:
        client_port = sock.getsockname()[1]
        sock.shutdown(socket.SHUT_WR)
        wait_for(lambda: "CLOSE_WAIT" not in server_sockets(lab.port, client_port)
                 and "ESTABLISHED" not in server_sockets(lab.port, client_port),
                 "the server to close its side")
        wait_for(lambda: state(client, "clean-session") == before, "the session's release")
    finally:
        sock.close()


# ---------------------------------------------------------------------------------------------
# The tick schedule and the experiment table


def test_ticks_count_ids_and_heartbeats() -> None:
    async def collect() -> list[bytes]:
        return [chunk async for chunk in ticks(EventWriter(first_id=5), period=0.01, first=5,
                                               count=4)]

    chunks = asyncio.run(collect())
    assert chunks[0].startswith(b"retry: 3000\nid: 5\nevent: tick\n")
    events = [c for c in chunks if b"event: tick" in c]
    assert [json.loads(c.split(b"data: ")[1]) for c in events] == [{"n": n} for n in range(5, 9)]
    assert all(c == b": heartbeat\n" for c in chunks if c not in events)
    assert SESSION_TICKS == 40


def test_ticks_end_at_once_when_stopped() -> None:
    async def run() -> list[bytes]:
        stop = asyncio.Event()
        out: list[bytes] = []
        async for chunk in ticks(EventWriter(), period=60.0, stop=stop):
            out.append(chunk)
            stop.set()  # the next tick is a minute away: only the stop can end this
        return out

    assert len(asyncio.run(run())) == 1


EXPECTED_EXPERIMENTS = {
    "disconnect-leaky": ("disconnect", "/sse/leaky-session", {"reconnect-rejected",
                                                              "cleanup-leak"}),
    "disconnect-clean": ("disconnect", "/sse/clean-session", set()),
    "ws-disconnect-leaky": ("disconnect", "/ws/leaky-session", {"cleanup-leak"}),
    "ws-disconnect-clean": ("disconnect", "/ws/clean-session", set()),
    "close-wait": ("disconnect", "/sse/close-wait", {"close-wait-leak"}),
    "mcp-cancel": ("disconnect", "/mcp/modern", set()),
    "mcp-call-runs-on": ("disconnect", "/mcp/modern-call-runs-on", {"mcp-call-not-cancelled"}),
    "duplicates-unlimited": ("duplicates", "/sse/duplicates-unlimited",
                             {"duplicate-streams-allowed"}),
    "duplicates-newest": ("duplicates", "/sse/newest-wins", set()),
    "storm-leak": ("storm", "/sse/storm-leak", {"storm-leak"}),
    "storm-clean": ("storm", "/sse/storm-clean", set()),
    "resume-ignored": ("resume", "/sse/resume-ignored", {"resume-replay"}),
    "resume-supported": ("resume", "/sse/resume-supported", set()),
    "resume-gap": ("resume", "/sse/resume-gap", {"resume-gap"}),
}


def test_experiment_table() -> None:
    table = {e.name: (e.command, e.path, set(e.expect)) for e in EXPERIMENTS}
    assert table == EXPECTED_EXPERIMENTS
    routed = {getattr(route, "path", None) for route in create_app().routes}
    for e in EXPERIMENTS:
        assert e.path in routed
        assert e.protocol == ("ws" if e.path.startswith("/ws/") else "sse")
        assert e.models and "\n" not in e.models
        assert e.expect <= set(REGISTRY)
        assert e.as_dict()["expect"] == sorted(e.expect)
        assert get_experiment(e.name) is e
    # The demo runs the rows concurrently: no two share a route.
    assert len({e.path for e in EXPERIMENTS}) == len(EXPERIMENTS)


def test_experiment_argv_fills_in_the_lab() -> None:
    argv = experiment_argv(get_experiment("disconnect-leaky"), "http://127.0.0.1:8123/", "al ice")
    assert argv == [
        "http://127.0.0.1:8123/sse/leaky-session?user=al+ice",
        "--after-events", "2", "--grace", "2",
        "--watch-metric",
        'http://127.0.0.1:8123/lab/metrics#lab_pending_sessions{route="leaky-session"}',
        "--watch-json", "http://127.0.0.1:8123/lab/state#leaky-session.temp_files",
    ]
    ws = experiment_argv(get_experiment("ws-disconnect-leaky"), "http://127.0.0.1:8123", "u")
    assert ws[0] == "ws://127.0.0.1:8123/ws/leaky-session?user=u"
    assert ws[-1] == 'http://127.0.0.1:8123/lab/metrics#lab_open_streams{route="ws-leaky-session"}'
    port = experiment_argv(get_experiment("close-wait"), "http://127.0.0.1:8123", "u")
    assert port[-2:] == ["--watch-port", "8123"]
    assert experiment_argv(get_experiment("storm-clean"), "http://h:1", "u")[-1] == \
        'http://h:1/lab/metrics#lab_subscribers{route="storm-clean"}'
