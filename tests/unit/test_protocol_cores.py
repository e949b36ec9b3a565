"""The sans-I/O cores of the Socket.IO and GraphQL profiles, from recorded real-server traffic
(fixtures/socketio, fixtures/graphql: tests/support/make_protocol_fixtures.py) and hostile input."""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sse_doctor.profiles.graphql.checks import check_session as gql_checks
from sse_doctor.profiles.graphql.protocol import (
    LEGACY_WS,
    TRANSPORT_WS,
    GqlSession,
    close_words,
    operation_kind,
)
from sse_doctor.profiles.socketio import codec
from sse_doctor.profiles.socketio.checks import check_session as sio_checks
from sse_doctor.profiles.socketio.observation import SioObservation
from sse_doctor.profiles.socketio.protocol import MAX_EVENT_NAMES, MAX_SAMPLES, SioSession
from sse_doctor.ws.observation import WsObservation

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"


def _load(path: str) -> dict:
    return json.loads((FIXTURES / path).read_text())


# --- Socket.IO codec ----------
def test_engineio_packets_and_payloads() -> None:
    assert codec.decode_eio("2") == codec.EioPacket(codec.PING, "")
    assert codec.decode_eio("3probe").data == "probe"
    assert codec.decode_eio(b"\x01\x02") == codec.EioPacket(codec.MESSAGE, b"\x01\x02")
    assert codec.decode_eio("bAQI=") == codec.EioPacket(codec.MESSAGE, b"\x01\x02")
    assert codec.decode_payload(b"2\x1e40\x1e42[\"a\"]") == ["2", "40", '42["a"]']
    for bad in ("", "9", "x", "b!!"):
        with pytest.raises(codec.PacketError):
            codec.decode_eio(bad)


def test_socketio_packets_with_namespace_ack_and_attachments() -> None:
    p = codec.decode_sio('2/chat,12["msg",{"a":1}]')
    assert (p.type, p.namespace, p.ack_id, p.data) == (codec.EVENT, "/chat", 12, ["msg", {"a": 1}])
    p = codec.decode_sio('51-["up",{"_placeholder":true,"num":0}]')
    assert (p.type, p.attachments, p.namespace) == (codec.BINARY_EVENT, 1, "/")
    assert codec.decode_sio("0/admin?x=1,").namespace == "/admin"
    assert codec.encode_event("/chat", "subscribe", [{"room": "orders"}]) == \
        '42/chat,["subscribe",{"room":"orders"}]'
    assert codec.encode_connect("/") == "40" and codec.encode_disconnect("/a") == "41/a,"
    for bad in ("7", '2["x"', "5x-[]", "2" + "1" * 30 + "[]"):
        with pytest.raises(codec.PacketError):
            codec.decode_sio(bad)


def test_open_packet_rules() -> None:
    h = codec.parse_open('{"sid":"a","upgrades":["websocket"],"pingInterval":25000,'
                         '"pingTimeout":20000,"maxPayload":1000000}')
    assert h == codec.Handshake("a", ("websocket",), 25000.0, 20000.0, 1000000)
    for bad in ('{"upgrades":[]}', "[]", "nope", '{"sid":"a","pingInterval":"x","pingTimeout":1}'):
        with pytest.raises(codec.PacketError):
            codec.parse_open(bad)


# --- Socket.IO session, replaying python-socketio ----------
def _replay_sio(doc: dict, session: SioSession) -> list[str]:
    out: list[str] = []
    for i, (t, kind, text) in enumerate(doc["in"]):
        raw = text if kind == "text" else bytes.fromhex(text[2:])
        out += session.opened(t, raw, "websocket") if i == 0 else \
            session.receive(t, raw, "websocket")
    return out


def test_the_python_socketio_session_replays_to_the_same_metrics() -> None:
    doc = _load("socketio/python-socketio-websocket.json")
    s = SioSession(sends=(("subscribe", {"room": "orders"}),), expect=("subscribed",))
    out = _replay_sio(doc, s)
    assert out == ["40", '42["subscribe",{"room":"orders"}]', "3", "3"]
    m, recorded = s.metrics(), doc["metrics"]
    for key in ("pings", "pongs_sent", "events", "events_by_name", "ping_interval_ms",
                "ping_timeout_ms", "namespace_sid"):
        assert m[key] == recorded[key], key
    assert s.expect_hits["subscribed"] is not None and not s.over
    assert s.leave(3000.0) == ["41", "1"]
    assert sio_checks(SioObservation(url="x", session=s), None) == []


def test_a_missing_ping_is_a_timeout_once_its_deadline_passes() -> None:
    s = SioSession()
    s.opened(0.0, '0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200}',
             "websocket")
    assert s.ping_deadline() == 500.0 and not s.check_ping(499.0)
    s.receive(400.0, "2", "websocket")
    assert s.ping_deadline() == 900.0 and not s.check_ping(899.0) and s.check_ping(901.0)
    [f] = sio_checks(SioObservation(url="x", session=s), None)
    assert f.code == "socketio-ping-timeout" and "pingInterval 300 ms" in f.detail


def test_connect_error_and_disconnect_in_words() -> None:
    s = SioSession(namespace="/admin")
    s.opened(0.0, '0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200}', "polling")
    s.receive(5.0, '44/admin,{"message":"admins only"}', "polling")
    assert s.connect_error == "admins only" and s.over
    s = SioSession()
    s.opened(0.0, '0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200}', "polling")
    s.receive(5.0, '40{"sid":"b"}', "polling")
    s.receive(9.0, "41", "polling")
    [f] = sio_checks(SioObservation(url="x", session=s), None)
    assert f.code == "socketio-server-disconnect" and "DISCONNECT packet" in f.detail


def test_engineio_error_bodies_in_words() -> None:
    s = SioSession()
    s.refused(400, b'{"code":5,"message":"Unsupported protocol version"}', "polling handshake")
    [f] = sio_checks(SioObservation(url="x", session=s), None)
    assert f.code == "socketio-handshake-failed" and "Engine.IO error 5" in f.detail
    s = SioSession()
    s.opened(0.0, '0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200}', "polling")
    s.refused(400, b'"Invalid session a"', "long-polling POST (connect)")
    assert [f.code for f in sio_checks(SioObservation(url="x", session=s), None)] == \
        ["socketio-session-unknown"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=40)), max_size=60))
def test_any_server_traffic_is_read_without_an_exception_in_bounded_memory(packets) -> None:
    s = SioSession()
    s.opened(0.0, '0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200}',
             "websocket")
    for i, p in enumerate(packets):
        out = s.receive(float(i), p, "websocket")
        assert all(isinstance(x, str) for x in out)
    assert len(s.samples) <= MAX_SAMPLES and len(s.events) <= MAX_EVENT_NAMES + 1
    assert len(s.malformed_examples) <= 5
    sio_checks(SioObservation(url="x", session=s), None)  # never raises either


def test_a_flood_of_pings_and_event_names_stays_bounded() -> None:
    s = SioSession()
    s.opened(0.0, '0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200}',
             "websocket")
    for i in range(20_000):
        s.receive(float(i), "2", "websocket")
        s.receive(float(i), f'42["e{i}",{{}}]', "websocket")
    assert s.pings == s.pongs_sent == 20_000 and len(s.ping_gaps) <= 10_000
    assert len(s.events) == MAX_EVENT_NAMES + 1 and s.n_events == 20_000


# --- GraphQL ----------
def _replay_gql(doc: dict) -> tuple[GqlSession, list[dict]]:
    query = doc["args"][doc["args"].index("--query") + 1]
    s = GqlSession(query)
    sent = [json.loads(m) for m in s.start(0.0, doc["subprotocol"])]
    for t, _, text in doc["in"]:
        sent += [json.loads(m) for m in s.receive(t, text)]
    return s, sent


@pytest.mark.parametrize("name", ["strawberry-transport-ws", "strawberry-legacy-ws"])
def test_strawberry_conversations_replay(name) -> None:
    s, sent = _replay_gql(_load(f"graphql/{name}-count.json"))
    legacy = s.dialect == LEGACY_WS
    assert [m["type"] for m in sent] == ["connection_init", "start" if legacy else "subscribe"]
    assert legacy or "payload" not in sent[0]
    assert s.results == 3 and s.complete_ms is not None and s.over and not s.errors
    assert s.finish(2000.0) == ([json.dumps({"type": "connection_terminate"})] if legacy else [])
    if legacy:
        assert s.keepalives["ka"] >= 1
    s, _ = _replay_gql(_load(f"graphql/{name}-boom.json"))
    assert s.errors == ["the resolver failed"]
    ws = WsObservation(url="ws://x", status=101, subprotocol=s.dialect)
    assert [f.code for f in gql_checks(s, ws, 30.0)] == ["graphql-operation-error"]


def test_operation_kinds_and_close_codes() -> None:
    assert operation_kind("subscription S { a }") == "subscription"
    assert operation_kind("# c\nmutation { a }") == "mutation"
    assert operation_kind("{ a }") == "query"
    assert operation_kind("fragment F on Q { a { b } }\nsubscription { a { ...F } }") == \
        "subscription"
    assert "forbidden" in close_words(4403) and close_words(1000) is None


def test_transport_ws_ping_is_answered_and_unknown_messages_counted() -> None:
    s = GqlSession("subscription { a }")
    s.start(0.0, TRANSPORT_WS)
    assert s.receive(1.0, '{"type":"ping"}') == ['{"type": "pong"}']
    assert s.receive(2.0, "not json") == [] and s.receive(3.0, '{"type":"weird"}') == []
    assert s.unknown == 2 and s.keepalives["ping"] == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=60), st.sampled_from([TRANSPORT_WS, LEGACY_WS]))
def test_any_graphql_traffic_is_read_without_an_exception(messages, dialect) -> None:
    s = GqlSession("subscription { a }")
    s.start(0.0, dialect)
    for i, m in enumerate(messages):
        s.receive(float(i), m)
        s.receive(float(i), json.dumps({"type": "next", "id": "1",
                                        "payload": {"errors": [{"message": m}]}}))
    assert len(s.errors) <= 5 and len(s.unknown_examples) <= 5


def test_a_complete_after_our_stop_is_not_the_server_completing() -> None:
    s = GqlSession("subscription { a }")
    s.start(0.0, LEGACY_WS)
    s.receive(1.0, '{"type":"connection_ack"}')
    s.receive(2.0, '{"type":"data","id":"1","payload":{"data":{"a":1}}}')
    assert [json.loads(m)["type"] for m in s.finish(3.0)] == ["stop", "connection_terminate"]
    s.receive(4.0, '{"type":"complete","id":"1"}')
    assert s.complete_ms is None and s.metrics()["completed"] is False
