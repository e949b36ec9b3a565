"""Engine.IO v4 and Socket.IO v5 packets, encoded and decoded (sans-I/O, pure).

Written by hand rather than taken from python-engineio/python-socketio: those packages
decode inside their client and server classes, raise on the malformed packets a doctor must
report instead, and are optional test dependencies, not runtime ones.

Engine.IO v4 (https://socket.io/docs/v4/engine-io-protocol/): a packet is one type digit
(0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop) and its data; over HTTP
long-polling several packets share one body, separated by the record separator 0x1e, and a
binary packet travels as ``b`` + base64. Over WebSocket a frame is one packet; a binary frame
is a binary message.

Socket.IO v5 (https://socket.io/docs/v4/socket-io-protocol/), inside an Engine.IO message:
type digit (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT,
6 BINARY_ACK), ``N-`` attachments for binary types, the namespace and a comma when it is not
``/``, an ack id, then JSON.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)
EIO_NAMES = ("open", "close", "ping", "pong", "message", "upgrade", "noop")
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)
SIO_NAMES = ("CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT",
             "BINARY_ACK")
RECORD_SEPARATOR = "\x1e"
DIGITS = "0123456789"  # str.isdigit() also takes '²' and other Unicode digits
MAX_ATTACHMENTS = 64  # a BINARY_EVENT announcing more is malformed (python-socketio: 10 digits)


class PacketError(ValueError):
    """A packet that breaks the protocol; the message says how, for people."""


@dataclass(frozen=True)
class EioPacket:
    type: int
    data: str | bytes = ""

    @property
    def name(self) -> str:
        return EIO_NAMES[self.type]


def decode_eio(raw: str | bytes) -> EioPacket:
    """One Engine.IO packet (a WebSocket frame, or one record of a polling body)."""
    if isinstance(raw, (bytes, bytearray)):
        return EioPacket(MESSAGE, bytes(raw))  # a binary frame is a binary message
    if not raw:
        raise PacketError("an empty Engine.IO packet")
    if raw[0] == "b":
        try:
            return EioPacket(MESSAGE, base64.b64decode(raw[1:], validate=True))
        except ValueError:
            raise PacketError(f"a 'b' packet that is not base64: {raw[:40]!r}") from None
    if raw[0] not in DIGITS or int(raw[0]) > NOOP:
        raise PacketError(f"unknown Engine.IO packet type {raw[:1]!r} in {raw[:40]!r}")
    return EioPacket(int(raw[0]), raw[1:])


def decode_payload(body: bytes | str) -> list[str]:
    """The records of a long-polling response body (not yet decoded as packets)."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    return [] if not text else text.split(RECORD_SEPARATOR)


def encode_eio(ptype: int, data: str = "") -> str:
    return f"{ptype}{data}"


def encode_payload(packets: list[str]) -> str:
    return RECORD_SEPARATOR.join(packets)


@dataclass(frozen=True)
class Handshake:
    sid: str
    upgrades: tuple[str, ...]
    ping_interval_ms: float
    ping_timeout_ms: float
    max_payload: int | None


def parse_open(data: str | bytes) -> Handshake:
    """The open packet's JSON (PacketError when it is not one)."""
    if isinstance(data, bytes):
        raise PacketError("the open packet is binary")
    try:
        doc = json.loads(data)
    except ValueError:
        raise PacketError(f"the open packet is not JSON: {data[:60]!r}") from None
    if not isinstance(doc, dict):
        raise PacketError("the open packet is not a JSON object")
    sid, interval, timeout = doc.get("sid"), doc.get("pingInterval"), doc.get("pingTimeout")
    if not isinstance(sid, str) or not sid:
        raise PacketError("the open packet has no sid")
    for name, v in (("pingInterval", interval), ("pingTimeout", timeout)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise PacketError(f"the open packet has no valid {name}")
    upgrades = doc.get("upgrades") or []
    max_payload = doc.get("maxPayload")
    return Handshake(sid, tuple(u for u in upgrades if isinstance(u, str))
                     if isinstance(upgrades, list) else (),
                     float(interval), float(timeout),
                     max_payload if isinstance(max_payload, int) else None)


@dataclass(frozen=True)
class SioPacket:
    type: int
    namespace: str = "/"
    data: Any = None
    ack_id: int | None = None
    attachments: int = 0

    @property
    def name(self) -> str:
        return SIO_NAMES[self.type]


def decode_sio(text: str) -> SioPacket:
    """One Socket.IO packet from an Engine.IO message's text (PacketError when malformed)."""
    if not text or text[0] not in DIGITS or int(text[0]) > BINARY_ACK:
        raise PacketError(f"unknown Socket.IO packet type {text[:1]!r} in {text[:40]!r}")
    ptype, rest = int(text[0]), text[1:]
    attachments = 0
    if ptype in (BINARY_EVENT, BINARY_ACK):
        count, dash, after = rest.partition("-")
        if not dash or not count or count.strip(DIGITS) or int(count) > MAX_ATTACHMENTS:
            raise PacketError(f"a binary packet without a valid attachment count: {text[:40]!r}")
        attachments, rest = int(count), after
    namespace = "/"
    if rest.startswith("/"):
        ns, comma, after = rest.partition(",")
        namespace, rest = ns.partition("?")[0], after if comma else ""
    digits = 0
    while digits < len(rest) and rest[digits] in DIGITS:
        digits += 1
    if digits > 18:
        raise PacketError(f"an ack id too long in {text[:40]!r}")
    ack_id = int(rest[:digits]) if digits else None
    rest = rest[digits:]
    data: Any = None
    if rest:
        try:
            data = json.loads(rest)
        except ValueError:
            raise PacketError(f"a {SIO_NAMES[ptype]} packet whose data is not JSON: "
                              f"{text[:60]!r}") from None
    return SioPacket(ptype, namespace, data, ack_id, attachments)


def _ns(namespace: str) -> str:
    return "" if namespace == "/" else namespace + ","


def encode_connect(namespace: str, auth: Any = None) -> str:
    """An Engine.IO message carrying a Socket.IO CONNECT."""
    body = "" if auth is None else json.dumps(auth, separators=(",", ":"))
    return f"{MESSAGE}{CONNECT}{_ns(namespace)}{body}"


def encode_disconnect(namespace: str) -> str:
    return f"{MESSAGE}{DISCONNECT}{_ns(namespace)}"


def encode_event(namespace: str, name: str, args: list[Any]) -> str:
    return f"{MESSAGE}{EVENT}{_ns(namespace)}" + json.dumps([name, *args],
                                                             separators=(",", ":"))


def encode_ack(namespace: str, ack_id: int, args: list[Any]) -> str:
    return f"{MESSAGE}{ACK}{_ns(namespace)}{ack_id}" + json.dumps(args, separators=(",", ":"))
