"""Sans-I/O cores of one load stream: bytes in (with their arrival time), bytes to send out,
counts into a LoadRecorder. No sockets, no event loop: the asyncio driver feeds them here, a
Locust user can feed them from gevent sockets.

Per-stream state is a handful of numbers plus the SSE parser (or websockets' protocol
object): no timeline is kept.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sse_doctor.load.http1 import HttpProtocolError, ResponseReader
from sse_doctor.load.recorder import LoadRecorder
from sse_doctor.sse.parser import Comment, Diagnostic, Event, SSEParser

OPENING, OPEN, CLOSED = 0, 1, 2


@dataclass(frozen=True)
class LagSpec:
    """Where a stream's send stamps come from. ``perf``: the lab's ``: t=<perf_counter>``
    comments (same machine only); ``comment``: a comment ``PREFIX<epoch seconds>``;
    ``json``: a number at a dotted path in the event's (or message's) JSON data."""

    kind: str = "none"  # none | perf | comment | json
    arg: str = ""

    @classmethod
    def parse(cls, spec: str | None, loopback: bool) -> LagSpec:
        """``comment:PREFIX`` or ``json:PATH``; None: the lab's stamps when the target is this
        machine. ValueError with a message on a bad spec."""
        if spec is None:
            return cls("perf" if loopback else "none")
        kind, sep, arg = spec.partition(":")
        if not sep or kind not in ("comment", "json") or not arg:
            raise ValueError(f"--lag-from {spec!r}: expected comment:PREFIX or json:PATH")
        return cls(kind, arg)


def _json_stamp(data: str, path: tuple[str, ...]) -> float | None:
    try:
        value = json.loads(data)
        for key in path:
            value = value[int(key)] if isinstance(value, list) else value[key]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class LagReader:
    """Turns an item's text into a lag in ms (or None). ``wall_offset`` converts a
    perf_counter instant to epoch seconds for wall-clock stamps."""

    __slots__ = ("kind", "comments", "perf", "prefix", "path", "wall_offset")

    def __init__(self, spec: LagSpec) -> None:
        self.kind = spec.kind
        self.comments = spec.kind in ("perf", "comment")  # stamps come in comments
        self.perf = spec.kind == "perf"
        self.prefix = spec.arg.lstrip() if spec.kind == "comment" else ""
        self.path = tuple(spec.arg.split(".")) if spec.kind == "json" else ()
        self.wall_offset = time.time() - time.perf_counter()

    def from_comment(self, text: str, now: float) -> float | None:
        kind = self.kind
        if kind == "perf":
            if text.startswith(" t="):
                try:
                    return (now - float(text[3:])) * 1000.0
                except ValueError:
                    return None
            return None
        if kind == "comment":
            text = text.lstrip()
            if text.startswith(self.prefix):
                try:
                    return (now + self.wall_offset - float(text[len(self.prefix):])) * 1000.0
                except ValueError:
                    return None
        return None

    def from_data(self, data: str, now: float) -> float | None:
        if self.kind != "json":
            return None
        stamp = _json_stamp(data, self.path)
        return None if stamp is None else (now + self.wall_offset - stamp) * 1000.0


@dataclass
class LoadTarget:
    """Everything a connection needs, built once for every stream."""

    url: str
    protocol: str  # sse | ws
    host: str
    port: int
    tls: bool
    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    body_is_json: bool = False
    timeout: float = 10.0
    send: tuple[bytes, ...] = ()  # WS messages sent after open
    ping_interval: float | None = None
    idle_limit: float = 30.0

    @classmethod
    def from_target(cls, target, send: tuple[bytes, ...] = (),  # noqa: ANN001 - sse_doctor Target
                    ping_interval: float | None = None, idle_limit: float = 30.0) -> LoadTarget:
        parts = urlsplit(target.url)
        tls = parts.scheme in ("https", "wss")
        return cls(url=target.url, protocol=target.protocol, host=parts.hostname or "",
                   port=parts.port or (443 if tls else 80), tls=tls, method=target.method,
                   headers=list(target.headers), body=target.body,
                   body_is_json=target.body_is_json, timeout=target.timeout, send=send,
                   ping_interval=ping_interval, idle_limit=idle_limit)

    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"

    def request_bytes(self, last_event_id: str | None = None) -> bytes:
        """The SSE request, as EventSource sends it (plus the user's headers, which win)."""
        parts = urlsplit(self.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        names = {k.lower() for k, _ in self.headers}
        lines = [f"{self.method} {path} HTTP/1.1"]
        defaults = [("Host", self.host_header()), ("Accept", "text/event-stream"),
                    ("Cache-Control", "no-cache"),
                    # identity: decompressing ten thousand streams would cost the generator
                    # CPU the server did not ask for; a server that compresses anyway is read
                    # through zlib.
                    ("Accept-Encoding", "identity"), ("User-Agent", "sse-doctor-load")]
        if self.body is not None:
            defaults.append(("Content-Length", str(len(self.body))))
            if self.body_is_json:
                defaults.append(("Content-Type", "application/json"))
        for k, v in defaults:
            if k.lower() not in names:
                lines.append(f"{k}: {v}")
        if last_event_id:
            lines.append(f"Last-Event-ID: {last_event_id}")
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        return head + (self.body or b"")


class StreamEnding:
    """What an SSE and a WebSocket stream share: the longest silence so far and how a stream
    ends, refused before it opened or closed after (the recorder counts both). The
    subclasses hold the slots."""

    __slots__ = ()
    rec: LoadRecorder
    state: int
    t_head: float
    t_last: float
    max_silence: float
    idle_limit: float

    def silence_now(self, now: float) -> float:
        return max(self.max_silence, now - (self.t_last or self.t_head))

    def _refuse(self, kind: str, now: float) -> None:
        self.state = CLOSED
        self.rec.refused(kind, now)

    def _end(self, how: str, now: float) -> None:
        self.state = CLOSED
        self.rec.closed(how, now, self.silence_now(now) > self.idle_limit)


class SseStream(StreamEnding):
    """One SSE stream: HTTP/1.1 head and body framing, then the project's SSE parser."""

    __slots__ = ("rec", "lag", "reader", "parser", "state", "t_start", "t_head", "t_last",
                 "max_silence", "got_byte", "got_event", "reconnect", "decomp", "idle_limit",
                 "malformed", "want_close")

    def __init__(self, rec: LoadRecorder, lag: LagReader, now: float, idle_limit: float,
                 parser: SSEParser | None = None, reconnect: bool = False,
                 head_only: bool = False) -> None:
        self.rec = rec
        self.lag = lag
        self.reader = ResponseReader(no_body=head_only)
        # A reconnect keeps the parser: its last event id and retry carry over, as a browser's.
        self.parser = parser or SSEParser()
        self.state = OPENING
        self.t_start = now
        self.t_head = 0.0
        self.t_last = 0.0
        self.max_silence = 0.0
        self.got_byte = self.got_event = False
        self.malformed = False
        self.reconnect = reconnect
        self.decomp = None
        self.idle_limit = idle_limit
        self.want_close = False  # (WebSocket's flag; an SSE stream closes by its state)
        rec.connecting()

    # --- input -----------------------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> bytes:
        """Bytes received at ``now``; returns bytes to send (always none for SSE). After it,
        ``state`` is CLOSED when the driver must close the connection."""
        if self.state == OPEN and self.decomp is None:
            # The read of an open stream (nearly every read): the same steps as below, minus
            # the opening's.
            self.rec.bytes += len(data)
            try:
                body = self.reader.feed(data)
            except HttpProtocolError:
                self._lost("bad-response", now)
                return b""
            self._body(body, now)
            return b""
        rec = self.rec
        rec.bytes += len(data)
        if not self.got_byte:
            self.got_byte = True
            rec.first_byte((now - self.t_start) * 1000.0)
        try:
            body = self.reader.feed(data)
        except HttpProtocolError:
            self._lost("bad-response", now)
            return b""
        if self.state == OPENING:
            head = self.reader.head
            if head is None:
                return b""
            if not 200 <= head.status < 300:
                self._refuse(str(head.status), now)
                return b""
            ctype = (head.header("content-type") or "").split(";")[0].strip().lower()
            if ctype != "text/event-stream":
                self._refuse("not-event-stream", now)
                return b""
            enc = (head.header("content-encoding") or "identity").strip().lower()
            if enc in ("gzip", "deflate"):
                self.decomp = zlib.decompressobj(47)  # gzip or zlib, detected
            self.state = OPEN
            self.t_head = now
            rec.opened_stream((now - self.t_start) * 1000.0, self.reconnect)
        if body and self.decomp is not None:
            try:
                body = self.decomp.decompress(body, 1 << 20)
            except zlib.error:
                self._lost("broken", now)
                return b""
        self._body(body, now)
        return b""

    def _body(self, body: bytes, now: float) -> None:
        """One read's body bytes (decoded), then the stream's end when the server ended it."""
        if body:
            text = self.parser.comment_line(body)
            if text is not None:
                self._comment(text, now)  # a heartbeat: what feed would give, without items
            else:
                self._items(self.parser.feed(body, now), now)
        if self.reader.done and self.state == OPEN:
            self._items(self.parser.close(now), now)
            self._lost("ended", now)

    def _comment(self, text: str, now: float) -> None:
        """A comment (the usual heartbeat): its lag when stamped, its gap, the silence."""
        lag = self.lag
        if lag.perf and text[:3] == " t=":
            # from_comment's lab-stamp case, inline: the load engine's commonest item
            try:
                lag_ms: float | None = (now - float(text[3:])) * 1000.0
            except ValueError:
                lag_ms = None
        else:
            lag_ms = lag.from_comment(text, now) if lag.comments else None
        last = self.t_last
        silence = now - (last or self.t_head)
        if silence > self.max_silence:
            self.max_silence = silence
        self.t_last = now
        self.rec.item((now - last) * 1000.0 if last else None, lag_ms)

    def _items(self, items: list, now: float) -> None:
        rec = self.rec
        lag = self.lag
        for it in items:
            cls = type(it)
            if cls is Comment:
                self._comment(it.text, now)
                continue
            if cls is Event:
                lag_ms = lag.from_data(it.data, now) if lag.kind == "json" else None
                if not self.got_event:
                    self.got_event = True
                    rec.first_event((now - self.t_start) * 1000.0)
            else:
                if cls is Diagnostic:  # bytes that break the format: garbage is no all-clear
                    rec.diagnostic(it.kind, not self.malformed)
                    self.malformed = True
                continue
            last = self.t_last
            silence = now - (last or self.t_head)
            if silence > self.max_silence:
                self.max_silence = silence
            self.t_last = now
            rec.item((now - last) * 1000.0 if last else None, lag_ms)

    def eof(self, now: float, error: str | None) -> None:
        """The connection ended (``error``: "reset" or another reason, None for a clean FIN)."""
        if self.state == CLOSED:
            return
        if self.state == OPENING:
            if self.reader.head is None:
                self._refuse(error or "closed", now)
            return
        if error is None and self.reader.eof():
            self._items(self.parser.close(now), now)
            self._lost("ended", now)
        else:
            self._lost("broken", now)

    def deadline(self, now: float) -> None:
        """No response head within --timeout."""
        if self.state == OPENING:
            self._refuse("timeout", now)

    def client_close(self, now: float) -> None:
        """We end the stream (the run is over)."""
        if self.state == OPENING:
            self.rec.opening -= 1
            self.state = CLOSED
        elif self.state == OPEN:
            self._end("client", now)


    # --- endings ---------------------------------------------------------------------------------

    def _lost(self, how: str, now: float) -> None:
        if self.state == OPENING:
            self._refuse(how, now)
        elif self.state == OPEN:
            self._end(how, now)

    @property
    def retry_s(self) -> float:
        """How long a browser waits before reconnecting this stream."""
        return (self.parser.retry if self.parser.retry is not None else 3000) / 1000.0


class WsStream(StreamEnding):
    """One WebSocket: websockets' sans-I/O ClientProtocol (no compression offered: a
    permessage-deflate context per socket would cost ~64 KiB of memory each)."""

    __slots__ = ("rec", "lag", "proto", "state", "t_start", "t_head", "t_last", "max_silence",
                 "got_byte", "got_event", "reconnect", "idle_limit", "send", "want_close")

    def __init__(self, rec: LoadRecorder, lag: LagReader, now: float, target: LoadTarget,
                 reconnect: bool = False) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.rec = rec
        self.lag = lag
        self.proto = ClientProtocol(parse_uri(target.url), max_size=1 << 20)
        request = self.proto.connect()
        for k, v in target.headers:
            request.headers[k] = v
        self.proto.send_request(request)
        self.state = OPENING
        self.t_start = now
        self.t_head = self.t_last = self.max_silence = 0.0
        self.got_byte = self.got_event = False
        self.reconnect = reconnect
        self.idle_limit = target.idle_limit
        self.send = target.send
        self.want_close = False
        rec.connecting()

    def initial(self) -> bytes:
        """The opening handshake request."""
        return self._outgoing()

    def _outgoing(self) -> bytes:
        out = self.proto.data_to_send()
        if out and out[-1] == b"":  # websockets asks for the TCP end: the driver closes
            self.want_close = True
        return b"".join(out)

    def feed(self, data: bytes, now: float) -> bytes:
        from websockets.frames import Opcode
        from websockets.http11 import Response

        rec = self.rec
        rec.bytes += len(data)
        if not self.got_byte:
            self.got_byte = True
            rec.first_byte((now - self.t_start) * 1000.0)
        self.proto.receive_data(data)
        for ev in self.proto.events_received():
            if isinstance(ev, Response):
                if self.proto.handshake_exc is not None or ev.status_code != 101:
                    kind = str(ev.status_code) if ev.status_code != 101 else "bad-handshake"
                    self._refuse(kind, now)
                    return b""
                self.state = OPEN
                self.t_head = now
                rec.opened_stream((now - self.t_start) * 1000.0, self.reconnect)
                for msg in self.send:
                    self.proto.send_text(msg)
                continue
            opcode = ev.opcode
            if opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                lag_ms = None
                if self.lag.kind == "json" and opcode == Opcode.TEXT:
                    lag_ms = self.lag.from_data(ev.data.decode("utf-8", "replace"), now)
                if not self.got_event:
                    self.got_event = True
                    rec.first_event((now - self.t_start) * 1000.0)
            elif opcode in (Opcode.PING, Opcode.PONG):
                lag_ms = None
            else:  # CLOSE: counted when the TCP connection ends
                continue
            last = self.t_last
            silence = now - (last or self.t_head)
            if silence > self.max_silence:
                self.max_silence = silence
            self.t_last = now
            rec.item((now - last) * 1000.0 if last else None, lag_ms)
        out = self._outgoing()
        if self.state == OPENING and self.proto.handshake_exc is not None:
            self._refuse("bad-handshake", now)
        return out

    def ping(self) -> bytes:
        if self.state == OPEN:
            try:
                self.proto.send_ping(b"sse-doctor")
            except Exception:  # noqa: BLE001 - websockets raises once the socket is closing
                return b""
            return self._outgoing()
        return b""

    def eof(self, now: float, error: str | None) -> None:
        if self.state == CLOSED:
            return
        if self.state == OPENING:
            self._refuse(error or "closed", now)
            return
        self.proto.receive_eof()
        rcvd = self.proto.close_rcvd
        how = "closed" if rcvd is not None and error is None else "broken"
        self._end(how, now)

    def deadline(self, now: float) -> None:
        if self.state == OPENING:
            self._refuse("timeout", now)

    def client_close(self, now: float) -> bytes:
        if self.state == OPENING:
            self.rec.opening -= 1
            self.state = CLOSED
            return b""
        if self.state == OPEN:
            self._end("client", now)
            try:
                self.proto.send_close(1001)
            except Exception:  # noqa: BLE001 - already closing
                return b""
            return self._outgoing()
        return b""




    @property
    def retry_s(self) -> float:
        return 1.0
