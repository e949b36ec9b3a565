"""A Socket.IO v5 client session over Engine.IO v4, sans-I/O: packets in (with their time),
packets to send out, and the records the checks read. The I/O shell (driver.py) moves the
packets over HTTP long-polling or a WebSocket; a load driver could move them just as well.

Times are milliseconds since the session began (the first request). Memory stays bounded
whatever the server sends: counters, a fixed number of samples and examples.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.profiles.socketio import codec
from sse_doctor.units import percentile

MAX_EVENT_NAMES = 100  # distinct names counted; later new names count under OTHER
OTHER = "(other names)"
MAX_SAMPLES = 50  # events kept with their stamp and an excerpt
MAX_GAPS = 10_000  # ping gaps kept for the cadence percentiles
MAX_EXAMPLES = 5  # malformed packets kept as examples
EXCERPT = 200


@dataclass
class EventSample:
    t_ms: float
    name: str
    excerpt: str
    transport: str


@dataclass
class SioSession:
    namespace: str = "/"
    sends: tuple[tuple[str, Any], ...] = ()  # (event name, JSON value or None) sent once joined
    expect: tuple[str, ...] = ()  # event names or payload text that must arrive
    auth: Any = None
    # --- what happened -----------------------------------------------------------------------
    transport: str = "polling"  # the one carrying the session now
    handshake: codec.Handshake | None = None
    open_ms: float | None = None
    handshake_error: str | None = None
    session_unknown: str | None = None  # the 400 that said the sid is unknown, in words
    upgrade: str | None = None  # None (not tried) | "ok" | "failed" | "not-offered"
    upgrade_error: str | None = None
    upgrade_started_ms: float | None = None
    upgrade_ms: float | None = None  # from the probe to the upgrade packet
    connect_sent_ms: float | None = None
    connected_ms: float | None = None
    ns_sid: str | None = None
    connect_error: str | None = None
    server_disconnect: str | None = None  # the reason in words
    disconnect_ms: float | None = None
    ping_timeout_ms: float | None = None  # when we gave up waiting for a server ping
    left_ms: float | None = None  # when we left on purpose (the window ended)
    pings: int = 0
    pongs_sent: int = 0
    last_ping_ms: float | None = None
    ping_gaps: list[float] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    samples: list[EventSample] = field(default_factory=list)
    n_events: int = 0
    first_event_ms: float | None = None
    expect_hits: dict[str, float | None] = field(default_factory=dict)
    malformed: int = 0
    parse_error_ms: float | None = None  # a packet the official client cannot decode: it drops
    malformed_examples: list[str] = field(default_factory=list)
    noops: int = 0
    sent_events: int = 0
    _attachments_due: int = 0

    def __post_init__(self) -> None:
        for text in self.expect:
            self.expect_hits.setdefault(text, None)

    # --- state ---------------------------------------------------------------------------------
    @property
    def over(self) -> bool:
        """Nothing more will happen on this session: the shell may stop early."""
        return bool(self.handshake_error or self.session_unknown or self.connect_error
                    or self.server_disconnect or self.ping_timeout_ms is not None
                    or self.parse_error_ms is not None)

    def ping_deadline(self) -> float | None:
        """When a server ping is overdue (ms): pingInterval + pingTimeout after the last one
        (or the open packet), as the official client counts."""
        h = self.handshake
        if h is None or self.open_ms is None or self.over or self.left_ms is not None:
            return None
        since = self.last_ping_ms if self.last_ping_ms is not None else self.open_ms
        return since + h.ping_interval_ms + h.ping_timeout_ms

    def check_ping(self, t_ms: float) -> bool:
        """True (once) when the server's ping is overdue at t_ms: the client gives up."""
        deadline = self.ping_deadline()
        if deadline is not None and t_ms > deadline:
            self.ping_timeout_ms = t_ms
            return True
        return False

    # --- the handshake -------------------------------------------------------------------------
    def opened(self, t_ms: float, raw: str | bytes, transport: str) -> list[str]:
        """The first packet of the session (polling handshake body, or the first WebSocket
        frame): an open packet, then our CONNECT."""
        self.transport = transport
        try:
            if transport == "polling":
                records = codec.decode_payload(raw)
                if not records:
                    raise codec.PacketError("an empty handshake response")
                raw = records[0]
            packet = codec.decode_eio(raw)
            if packet.type != codec.OPEN:
                raise codec.PacketError(f"the first packet is {packet.name}, not open")
            self.handshake = codec.parse_open(packet.data)
        except codec.PacketError as exc:
            self.handshake_error = f"no valid Engine.IO open packet: {exc}"
            return []
        self.open_ms = t_ms
        self.connect_sent_ms = t_ms
        return [codec.encode_connect(self.namespace, self.auth)]

    def refused(self, status: int | None, body: bytes | str, what: str) -> None:
        """A request answered with an error status instead of packets."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        text = text.strip()[:EXCERPT]
        words = _engineio_error(text)
        unknown = "session id unknown" in text.lower() or "invalid session" in text.lower()
        if unknown and self.handshake is not None and self.server_disconnect is None:
            self.session_unknown = (f"the {what} was answered {status} {words or repr(text)}: this "
                                    f"server does not know the session the handshake opened")
        elif self.handshake is None:
            self.handshake_error = f"the {what} was answered {status}" + (
                f" {words}" if words else f" {text!r}" if text else "")
        elif self.server_disconnect is None:
            self.server_disconnect = f"the {what} was answered {status}" + (
                f" {words}" if words else f" {text!r}" if text else "")

    # --- packets in ----------------------------------------------------------------------------
    def receive(self, t_ms: float, raw: str | bytes, transport: str) -> list[str]:
        """One Engine.IO packet from the server; returns the packets to send back."""
        if self._attachments_due and isinstance(raw, (bytes, bytearray)):
            self._attachments_due -= 1
            return []
        try:
            packet = codec.decode_eio(raw)
        except codec.PacketError as exc:
            self._unreadable(t_ms, str(exc))
            return []
        if packet.type == codec.PING:
            if packet.data == "probe":
                self._bad("a ping probe from the server (only clients probe)")
                return []
            self.pings += 1
            if self.last_ping_ms is not None and len(self.ping_gaps) < MAX_GAPS:
                self.ping_gaps.append(t_ms - self.last_ping_ms)
            self.last_ping_ms = t_ms
            self.pongs_sent += 1
            return [codec.encode_eio(codec.PONG)]
        if packet.type == codec.PONG:
            if packet.data == "probe" and self.upgrade_started_ms is not None:
                return []  # the shell handles the probe answer
            self._bad("a pong the client never asked for (Engine.IO v4 servers ping, "
                      "clients answer)")
            return []
        if packet.type == codec.NOOP:
            self.noops += 1
            return []
        if packet.type == codec.CLOSE:
            self._ended(t_ms, "the server closed the Engine.IO session (a close packet)")
            return []
        if packet.type == codec.OPEN:
            self._bad("a second open packet")
            return []
        if packet.type == codec.UPGRADE:
            self._bad("an upgrade packet from the server")
            return []
        if isinstance(packet.data, bytes):
            self._unreadable(t_ms, "a binary message no BINARY_EVENT announced")
            return []
        try:
            sio = codec.decode_sio(packet.data)
        except codec.PacketError as exc:
            self._unreadable(t_ms, str(exc))
            return []
        return self._socketio(t_ms, sio, packet.data, transport)

    def _socketio(self, t_ms: float, p: codec.SioPacket, text: str, transport: str) -> list[str]:
        if p.namespace != self.namespace:
            return []  # another namespace's traffic (a shared connection): not ours
        if p.type == codec.CONNECT:
            if self.connected_ms is not None:
                return []
            self.connected_ms = t_ms
            if isinstance(p.data, dict) and isinstance(p.data.get("sid"), str):
                self.ns_sid = p.data["sid"]
            out = []
            for name, value in self.sends:
                out.append(codec.encode_event(self.namespace, name,
                                              [] if value is None else [value]))
                self.sent_events += 1
            return out
        if p.type == codec.CONNECT_ERROR:
            message = p.data.get("message") if isinstance(p.data, dict) else p.data
            self.connect_error = str(message) if message not in (None, "") else \
                "(no message)"
            self.disconnect_ms = t_ms
            return []
        if p.type == codec.DISCONNECT:
            self._ended(t_ms, f"the server disconnected the namespace {self.namespace!r} "
                              "(a DISCONNECT packet: the server called disconnect())")
            return []
        if p.type in (codec.EVENT, codec.BINARY_EVENT):
            self._attachments_due = p.attachments
            data = p.data
            if not isinstance(data, list) or not data or not isinstance(data[0], str):
                self._bad(f"an EVENT whose data is not [name, ...]: {text[:60]!r}")
                return []
            self._event(t_ms, data[0], text, transport)
            return []
        if p.type == codec.BINARY_ACK:
            self._attachments_due = p.attachments
        return []  # ACKs answer acks we never ask for

    def _event(self, t_ms: float, name: str, text: str, transport: str) -> None:
        self.n_events += 1
        if self.first_event_ms is None:
            self.first_event_ms = t_ms
        key = name if (name in self.events or len(self.events) < MAX_EVENT_NAMES) else OTHER
        self.events[key] += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(EventSample(t_ms, name, text[:EXCERPT], transport))
        for want, hit in self.expect_hits.items():
            if hit is None and (want == name or want in text):
                self.expect_hits[want] = t_ms

    def oversized(self, limit: int) -> None:
        self._bad(f"a polling response over {limit} bytes (cut there)")

    def _unreadable(self, t_ms: float, what: str) -> None:
        """A packet the official client cannot decode: it closes with "parse error"."""
        self._bad(what)
        if self.parse_error_ms is None:
            self.parse_error_ms = t_ms

    def _bad(self, what: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MAX_EXAMPLES:
            self.malformed_examples.append(what)

    def _ended(self, t_ms: float, why: str) -> None:
        if self.server_disconnect is None and self.left_ms is None:
            self.server_disconnect = why
            self.disconnect_ms = t_ms

    # --- the transport -------------------------------------------------------------------------
    def transport_closed(self, t_ms: float, how: str) -> None:
        """The transport ended without a Socket.IO or Engine.IO goodbye (how: in words)."""
        if self.left_ms is None and self.ping_timeout_ms is None:
            self._ended(t_ms, how)

    def start_upgrade(self, t_ms: float) -> str:
        self.upgrade_started_ms = t_ms
        return codec.encode_eio(codec.PING, "probe")

    def probe_answer(self, raw: str | bytes) -> bool:
        """True when `raw` is the server's ``3probe``, the answer to our ``2probe`` while the
        upgrade is pending: the shell then ends the long poll and sends the upgrade packet."""
        return (raw == codec.encode_eio(codec.PONG, "probe")
                and self.upgrade_started_ms is not None and self.upgrade is None)

    def on_websocket(self) -> None:
        """The session is carried by a WebSocket from the start (--transport websocket)."""
        self.transport = "websocket"

    def websocket_refused(self, status: int | None, body: bytes, handshake_error: str | None
                          ) -> None:
        """The direct WebSocket's opening handshake was answered without an upgrade."""
        self.refused(status, body, "WebSocket handshake")
        self.handshake_error = self.handshake_error or handshake_error

    def no_open_packet(self, timeout_s: float) -> None:
        """The WebSocket opened but no Engine.IO open packet came within --timeout."""
        if self.handshake is None and self.handshake_error is None:
            self.handshake_error = (f"no Engine.IO open packet within {timeout_s:g} s of the "
                                    "WebSocket handshake")

    def no_connect_answer(self, waited: str) -> None:
        """Our CONNECT got no answer (`waited`: "within 2.0 s", "in the window")."""
        if self.connected_ms is None and not self.over:
            self.connect_error = (f"no answer to the CONNECT of namespace {self.namespace!r} "
                                  f"{waited}")

    def upgraded(self, t_ms: float) -> str:
        self.upgrade = "ok"
        self.transport = "websocket"
        if self.upgrade_started_ms is not None:
            self.upgrade_ms = t_ms - self.upgrade_started_ms
        return codec.encode_eio(codec.UPGRADE)

    def upgrade_failed(self, why: str, not_offered: bool = False) -> None:
        self.upgrade = "not-offered" if not_offered else "failed"
        self.upgrade_error = why

    def leave(self, t_ms: float) -> list[str]:
        """Leaving at the end of the window, as the official client's disconnect() does."""
        if self.left_ms is not None or self.over or self.handshake is None:
            return []
        self.left_ms = t_ms
        out = [codec.encode_disconnect(self.namespace)] if self.connected_ms is not None else []
        return out + [codec.encode_eio(codec.CLOSE)]

    # --- for reports ---------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        h = self.handshake
        gaps = sorted(self.ping_gaps)
        return {
            "transport": self.transport,
            "upgrade": self.upgrade,
            "upgrade_ms": None if self.upgrade_ms is None else round(self.upgrade_ms, 1),
            "engineio_sid": h.sid if h else None,
            "ping_interval_ms": h.ping_interval_ms if h else None,
            "ping_timeout_ms": h.ping_timeout_ms if h else None,
            "max_payload": h.max_payload if h else None,
            "upgrades_offered": list(h.upgrades) if h else [],
            "namespace": self.namespace,
            "namespace_sid": self.ns_sid,
            "connect_ms": (None if self.connected_ms is None or self.connect_sent_ms is None
                           else round(self.connected_ms - self.connect_sent_ms, 1)),
            "pings": self.pings,
            "pongs_sent": self.pongs_sent,
            "ping_gap_ms": ({"p50": round(percentile(gaps, 0.5) or 0.0, 1),
                             "max": round(gaps[-1], 1)} if gaps else None),
            "events": self.n_events,
            "events_by_name": dict(self.events.most_common()),
            "events_sent": self.sent_events,
            "malformed_packets": self.malformed,
        }


def _engineio_error(text: str) -> str:
    """Engine.IO's error bodies in words: node answers {"code":N,"message":...}, python-engineio
    a JSON string such as "Invalid session X"."""
    try:
        doc = json.loads(text)
    except ValueError:
        return ""
    if isinstance(doc, str):
        return repr(doc)
    if isinstance(doc, dict) and "message" in doc:
        code = doc.get("code")
        return f"{doc['message']!r}" + (f" (Engine.IO error {code})" if code is not None else "")
    return ""
