"""The only WebSocket code that touches sockets: a `websockets` asyncio client connection that
records everything it sees into a WsObservation.

:class:`RecordingConnection` is a ``ClientConnection`` subclass handed to
``websockets.asyncio.client.connect(create_connection=...)``. It stamps every read with
``time.perf_counter()`` and hands the handshake response and each frame (text, binary, ping,
pong, close) to a :class:`WsRecorder`. Data frames never reach websockets' message queue: the
recorder keeps what it needs (size, a text excerpt, which expected substrings matched) and
drops the payload, so nothing waits on a reader and memory stays bounded.

It also keeps the first bytes of the handshake response: websockets reads a refused
handshake's whole body before it reports the status, and a server that answers a streaming
``200`` (an SSE route, a proxy that does not upgrade) never ends that body. After
``NON_UPGRADE_READ_S`` the connection is cut and the status comes from those bytes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Close as CloseFrame
from websockets.frames import Frame, Opcode
from websockets.http11 import Response

from sse_doctor import feed
from sse_doctor.model import MAX_TIMELINE, Close
from sse_doctor.ws.observation import PingRec, WsFrame, WsObservation

EXCERPT_CHARS = 1024  # text kept per message for the first --keep frames
SHORT_EXCERPT_CHARS = 120  # ... and for the ones after (the terminal shows the last steps)
MAX_RAW_HEAD = 16 * 1024  # handshake response bytes kept
NON_UPGRADE_READ_S = 1.0  # how long a refused handshake's body is read


def _ms(t: float, t0: float) -> float:
    return (t - t0) * 1000


def payload_text(data: bytes) -> str:
    """A ping/pong payload for people: text when it is printable UTF-8, else hex."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return text
    return "0x" + data.hex()


def parse_head(raw: bytes) -> tuple[int, str, str, list[tuple[str, str]], bytes] | None:
    """(status, reason, http_version, headers, body) of a raw HTTP response head, if complete."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return None
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        body = dechunk(body)
    return int(parts[1]), parts[2] if len(parts) > 2 else "", parts[0], headers, body


def dechunk(body: bytes) -> bytes:
    """The payload of a (possibly incomplete) chunked body, best effort."""
    out = bytearray()
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            break
        if not sep or size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)


class WsRecorder:
    """Turns what a RecordingConnection sees into a WsObservation. All times are
    ``perf_counter()`` values; ``t0`` is when the opening handshake was sent."""

    def __init__(self, obs: WsObservation, *, keep: int, expect: tuple[str, ...] = (),
                 max_events: int | None = None) -> None:
        self.obs = obs
        self.keep = keep
        self.expect = expect
        self.max_events = max_events
        self.t_attempt: float = time.perf_counter()
        self.t0: float | None = None
        self.conn: RecordingConnection | None = None
        self.raw_head = bytearray()
        self.head_status: int | None = None
        self.head_t: float | None = None  # when the response head was complete
        self.head_cut = False  # we cut a refused handshake whose body did not end
        # current incoming message (fragments), bounded by --max-message-size in websockets
        self._msg_type: str | None = None
        self._msg_buf = bytearray()
        self._pending_pings: dict[bytes, PingRec] = {}
        self._close_sent_seen = False
        self._close_in: tuple[float, int, str] | None = None
        self._close_out: tuple[float, int, str] | None = None
        self.client_close_by: str | None = None  # "deadline" | "client" when we close on purpose
        self.abort_mode: str | None = None  # "rst" | "fin" when an experiment dropped TCP
        self.stop = asyncio.Event()  # --max-events reached
        self.closing = asyncio.Event()  # a close frame went either way, or TCP ended
        # A protocol conversation (ws.conversation) reads each whole incoming message here:
        # on_message(t_ms, is_text, payload), called before the payload is dropped.
        self.on_message: Any = None
        for sub in expect:
            obs.expect_hits.setdefault(sub, None)
        # The shell's listener (probe --follow, the live panel): it sees every frame.
        self.listen = feed.hook(obs)

    # --- time ------------------------------------------------------------------------------

    def ms(self, t: float) -> float:
        return _ms(t, self.t0 if self.t0 is not None else self.t_attempt)

    # --- connection lifecycle -----------------------------------------------------------------

    def attach(self, conn: RecordingConnection) -> None:
        """A new connection attempt (the first one, or one after a redirect)."""
        self.conn = conn
        self.raw_head = bytearray()
        self.head_status = None
        self.head_t = None

    def on_connection_made(self, t: float) -> None:
        if self.obs.connect_ms is None:
            self.obs.connect_ms = _ms(t, self.t_attempt)

    def on_handshake_sent(self, t: float) -> None:
        if self.t0 is None:
            self.t0 = t

    def on_head_bytes(self, t: float, data: bytes) -> int | None:
        """Keep the response's first bytes; return its status once the head is complete."""
        if len(self.raw_head) < MAX_RAW_HEAD:
            self.raw_head += data[: MAX_RAW_HEAD - len(self.raw_head)]
        if self.head_status is None:
            parsed = parse_head(bytes(self.raw_head))
            if parsed is not None:
                self.head_status = parsed[0]
                self.head_t = t
                return self.head_status
        return None

    def on_response(self, t: float, response: Response) -> None:
        obs = self.obs
        obs.status = response.status_code
        obs.reason_phrase = response.reason_phrase
        obs.http_version = "HTTP/1.1"
        obs.headers = list(response.headers.raw_items())
        obs.headers_ms = self.ms(t)
        if 300 <= response.status_code < 400 and "Location" in response.headers:
            obs.redirects.append(f"{response.status_code} -> {response.headers['Location']}")

    def on_open(self, conn: ClientConnection) -> None:
        self.obs.subprotocol = conn.subprotocol
        self.obs.extensions = [str(e.name) for e in conn.protocol.extensions]

    # --- frames --------------------------------------------------------------------------------

    def _excerpt(self, text: str) -> tuple[str, bool]:
        limit = EXCERPT_CHARS if len(self.obs.frames) < self.keep else SHORT_EXCERPT_CHARS
        return (text, False) if len(text) <= limit else (text[:limit], True)

    def _add(self, frame: WsFrame) -> None:
        obs = self.obs
        (obs.n_in if frame.dir == "in" else obs.n_out)[frame.type] += 1
        if len(obs.frames) < MAX_TIMELINE:
            obs.frames.append(frame)
        else:
            obs.frames_dropped += 1
        if self.listen is not None:
            self.listen((frame,))

    def on_frame(self, t: float, frame: Frame) -> None:
        obs = self.obs
        t_ms = self.ms(t)
        op = frame.opcode
        if self.stop.is_set() and op is not Opcode.CLOSE:
            return  # --max-events reached: what arrives while we close is not observed
        if obs.ttfb_ms is None:
            obs.ttfb_ms = t_ms
        if op is not Opcode.PONG:
            obs.last_in_ms = t_ms
        if op is Opcode.TEXT or op is Opcode.BINARY:
            self._msg_type = "text" if op is Opcode.TEXT else "binary"
            self._msg_buf = bytearray(frame.data)
            if frame.fin:
                self._message_in(t_ms)
        elif op is Opcode.CONT:
            self._msg_buf += frame.data
            if frame.fin:
                self._message_in(t_ms)
        elif op is Opcode.PING:
            data = bytes(frame.data)
            self._add(WsFrame(t_ms, "in", "ping", len(data), payload_text(data)))
            # websockets answers at once, in the same write as this read's other replies
            self._add(WsFrame(t_ms, "out", "pong", len(data), payload_text(data)))
        elif op is Opcode.PONG:
            data = bytes(frame.data)
            self._add(WsFrame(t_ms, "in", "pong", len(data), payload_text(data)))
            self._pong(t_ms, data)
        elif op is Opcode.CLOSE:
            close = CloseFrame.parse(bytes(frame.data))
            self.obs.close_frame_received = True
            self._close_in = (t_ms, int(close.code), close.reason)
            text, cut = self._excerpt(close.reason)
            self._add(WsFrame(t_ms, "in", "close", len(frame.data), text, cut, int(close.code)))
            self.closing.set()

    def _message_in(self, t_ms: float) -> None:
        obs = self.obs
        data = bytes(self._msg_buf)
        self._msg_buf = bytearray()
        if self.on_message is not None:
            self.on_message(t_ms, self._msg_type != "binary", data)
        size = len(data)
        text = data.decode("utf-8", "replace")
        for sub in self.expect:
            if obs.expect_hits.get(sub) is None and sub in text:
                obs.expect_hits[sub] = t_ms
        if self._msg_type == "binary":
            shown, cut = self._excerpt("0x" + data[:EXCERPT_CHARS // 2].hex())
            cut = cut or size > EXCERPT_CHARS // 2
        else:
            shown, cut = self._excerpt(text)
        self._add(WsFrame(t_ms, "in", self._msg_type or "text", size, shown, cut))
        obs.bytes_in += size
        obs.size_min = size if obs.size_min is None else min(obs.size_min, size)
        obs.size_max = size if obs.size_max is None else max(obs.size_max, size)
        if obs.first_message_ms is None:
            obs.first_message_ms = t_ms
        if self.max_events is not None and obs.n_messages_in >= self.max_events:
            self.stop.set()

    def _pong(self, t_ms: float, data: bytes) -> None:
        # A pong answers its ping and every earlier one still waiting (RFC 6455 5.5.3 lets a
        # server answer only the most recent ping).
        if data not in self._pending_pings:
            return
        for payload in list(self._pending_pings):
            rec = self._pending_pings.pop(payload)
            rec.pong_ms = t_ms
            if payload == data:
                break

    # --- what we send ---------------------------------------------------------------------------

    def out_message(self, t: float, data: bytes, is_text: bool) -> None:
        shown, cut = self._excerpt(data.decode("utf-8", "replace") if is_text
                                   else "0x" + data[:EXCERPT_CHARS // 2].hex())
        self._add(WsFrame(self.ms(t), "out", "text" if is_text else "binary", len(data), shown,
                          cut or (not is_text and len(data) > EXCERPT_CHARS // 2)))
        self.obs.bytes_out += len(data)

    def out_ping(self, t: float, payload: bytes) -> None:
        rec = PingRec(self.ms(t), payload_text(payload))
        if len(self.obs.pings) < MAX_TIMELINE:
            self.obs.pings.append(rec)
        self._pending_pings[payload] = rec
        self._add(WsFrame(rec.t_ms, "out", "ping", len(payload), rec.payload))

    def sync_close_sent(self, t: float) -> None:
        """Record our close frame once websockets has queued one (an echo of the server's, a
        failure such as 1009, or our own close)."""
        conn = self.conn
        if conn is None or self._close_sent_seen:
            return
        sent = conn.protocol.close_sent
        if sent is None:
            return
        self._close_sent_seen = True
        self.obs.close_frame_sent = True
        t_ms = self.ms(t)
        self._close_out = (t_ms, int(sent.code), sent.reason)
        text, cut = self._excerpt(sent.reason)
        # An echo of a close without a status code is an empty close frame: websockets records
        # it as 1005, which it refuses to serialize (1005 is never sent on the wire).
        size = 0 if sent.code == 1005 else len(sent.serialize())
        self._add(WsFrame(t_ms, "out", "close", size, text, cut, int(sent.code)))
        exc = conn.protocol.parser_exc
        if exc is not None and self._close_in is None:
            from websockets.exceptions import PayloadTooBig

            if isinstance(exc, PayloadTooBig):
                self.obs.oversize = str(exc)
            elif not isinstance(exc, EOFError):
                self.obs.protocol_error = str(exc) or type(exc).__name__
        self.closing.set()

    def on_lost(self, t: float, exc: BaseException | None, eof: bool, aborted: bool) -> None:
        obs = self.obs
        obs.tcp_end_ms = self.ms(t)
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            obs.tcp_end = "reset"
        elif aborted and not eof:
            obs.tcp_end = "aborted"
        else:
            obs.tcp_end = "fin"
        self.closing.set()

    # --- the end ----------------------------------------------------------------------------------

    def finish(self, t_end: float) -> None:
        """Decide who closed, with which code, and when."""
        obs = self.obs
        obs.end_ms = self.ms(t_end)
        conn = self.conn
        if conn is None:
            return
        p = conn.protocol
        server_first = p.close_rcvd is not None and (
            p.close_sent is None or p.close_rcvd_then_sent is True)
        if server_first and self._close_in is not None:
            obs.close_initiator = "server"
            t_ms, code, reason = self._close_in
            obs.close = Close("server", t_ms, code, reason)
        elif self._close_out is not None:
            obs.close_initiator = "client"
            t_ms, code, reason = self._close_out
            obs.close = Close(self.client_close_by or "client", t_ms, code, reason)
        elif self.abort_mode is not None:
            t_ms = obs.tcp_end_ms if obs.tcp_end_ms is not None else obs.end_ms
            how = "reset (RST)" if self.abort_mode == "rst" else "closed (FIN)"
            obs.close = Close("client", t_ms, 1006,
                              f"sse-doctor {how} the TCP connection without a close frame")
        elif obs.tcp_end is not None:
            how = {"reset": "the TCP connection was reset (RST)",
                   "aborted": "sse-doctor aborted the TCP connection"}.get(
                obs.tcp_end, "the TCP connection was closed (FIN)")
            t_ms = obs.tcp_end_ms if obs.tcp_end_ms is not None else obs.end_ms
            obs.close = Close("transport", t_ms, 1006, f"{how} without a close frame")
        else:  # still open: the caller gave up on it
            obs.close = Close(self.client_close_by or "deadline", obs.end_ms, None, "")


class RecordingConnection(ClientConnection):
    """A websockets client connection that reports to a WsRecorder (see the module docstring)."""

    def __init__(self, protocol: Any, *, recorder: WsRecorder, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self.recorder = recorder
        self._t_read = time.perf_counter()
        self._eof = False
        self._aborted_by_us = False
        self._give_up: asyncio.TimerHandle | None = None
        recorder.attach(self)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        self.recorder.on_handshake_sent(time.perf_counter())
        await super().handshake(*args, **kwargs)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.recorder.on_connection_made(time.perf_counter())

    def data_received(self, data: bytes) -> None:
        t = self._t_read = time.perf_counter()
        rec = self.recorder
        rec.obs.n_reads += 1
        if self.response is None:
            status = rec.on_head_bytes(t, data)
            if status is not None and status != 101 and self._give_up is None:
                self._give_up = self.loop.call_later(NON_UPGRADE_READ_S, self._abort_handshake)
        super().data_received(data)
        rec.sync_close_sent(t)

    def _abort_handshake(self) -> None:
        if self.response is None:
            self.recorder.head_cut = True
            self.abort_transport()

    def abort_transport(self) -> None:
        self._aborted_by_us = True
        self.transport.abort()

    def process_event(self, event: Any) -> None:
        if self.response is None:
            super().process_event(event)  # the handshake response
            if isinstance(event, Response):
                self.recorder.on_response(self._t_read, event)
            return
        self.recorder.on_frame(self._t_read, event)
        if event.opcode is Opcode.PONG:
            self.acknowledge_pings(bytes(event.data))
        # Data frames are not queued for recv(): the recorder has what it needs.

    def eof_received(self) -> None:
        self._eof = True
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._give_up is not None:
            self._give_up.cancel()
        self.recorder.on_lost(time.perf_counter(), exc, self._eof, self._aborted_by_us)
        super().connection_lost(exc)
        self.recorder.sync_close_sent(time.perf_counter())
