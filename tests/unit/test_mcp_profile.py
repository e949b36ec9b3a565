"""The MCP profile's pure core: the sans-I/O session fed recorded SDK answers
(fixtures/mcp, from tests/support/make_mcp_fixtures.py) and hand-made broken ones, its checks, the
JSON-RPC reading and the shortened session ids."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp.checks import run_mcp_checks
from sse_doctor.profiles.mcp.protocol import (
    McpSession,
    Reply,
    Request,
    SseItem,
    judge_resume,
    resume_point,
)
from sse_doctor.redact import Redactor
from tests.support.mcp_replies import (
    FIXTURES,
    SSE,
    URL,
    converse,
    events_of,
    found,
    get_stream,
    healthy_script,
    message_event,
    recorded,
    sse,
)


def test_a_healthy_sdk_session_asks_for_each_step_with_the_right_headers() -> None:
    rec, sent = converse(healthy_script())
    assert [r.step for r in sent] == ["initialize", "notifications/initialized", "tools/list",
                                      "GET stream", "DELETE", "after DELETE"]
    init = dict(sent[0].headers)
    assert init["Accept"] == "application/json, text/event-stream"
    assert "Mcp-Session-Id" not in init and "MCP-Protocol-Version" not in init
    assert json.loads(sent[0].body)["params"]["protocolVersion"] == "2025-06-18"
    sid = dict(recorded("sdk-sse-initialize").headers)["mcp-session-id"]
    for req in sent[1:]:
        h = dict(req.headers)
        assert h["Mcp-Session-Id"] == sid and h["MCP-Protocol-Version"] == "2025-06-18"
    assert [r.method for r in sent] == ["POST", "POST", "POST", "GET", "DELETE", "POST"]
    assert sent[2].rpc_id == 2 and json.loads(sent[2].body)["method"] == "tools/list"
    assert found(rec) == set()
    assert rec.tools == 3 and rec.server == "sdk-demo 1.0" and rec.terminate == "ok"
    assert [s.status for s in rec.steps] == [200, 202, 200, 405, "skipped", 200, 404]
    assert all(sid not in s.detail for s in rec.steps)


def test_json_answers_and_a_stateless_server() -> None:
    rec, _ = converse(healthy_script(**{
        "initialize": recorded("sdk-json-initialize"),
        "notifications/initialized": recorded("sdk-json-initialized"),
        "tools/list": recorded("sdk-json-tools-list")}))
    assert found(rec) == set() and rec.response_modes == ["json", "json"]
    stateless = recorded("sdk-sse-initialize")
    stateless.headers = [h for h in stateless.headers if h[0] != "mcp-session-id"]
    rec, sent = converse(healthy_script(initialize=stateless))
    assert found(rec) == set() and rec.session_id is None
    assert sent[-1].step == "GET stream" and rec.steps[-1].status == "skipped"
    assert all("Mcp-Session-Id" not in dict(r.headers) for r in sent)


@pytest.mark.parametrize("reply, words", [
    ("sdk-accept-json-only", "406 Not Acceptable"),
    (Reply(status=400, body=b'{"error": "Unsupported protocol version: 2025-06-18"}'),
     "400 over the protocol version"),
    (sse(message_event({"jsonrpc": "2.0", "id": 1,
                        "error": {"code": -32602, "message": "bad params"}})),
     "JSON-RPC error -32602: bad params"),
    (Reply(status=None, error="timeout: connected and sent the request, but no response "
                              "head within 10 s"), "no answer: timeout"),
    (sse(message_event({"jsonrpc": "2.0", "method": "notifications/message"})),
     "the body ended without the JSON-RPC response"),
    (Reply(status=200, headers=[("content-type", "text/html")], body=b"<html>login</html>"),
     "neither application/json nor text/event-stream"),
])
def test_initialize_failures_say_why_in_words(reply: str | Reply, words: str) -> None:
    answer = recorded(reply) if isinstance(reply, str) else reply
    rec, sent = converse({"initialize": answer})
    assert [r.step for r in sent] == ["initialize"]
    assert found(rec) == {"mcp-initialize-failed"}
    assert words in rec.init_failed


def test_an_unreachable_server_is_not_an_mcp_finding() -> None:
    rec, _ = converse({"initialize": Reply(status=None, unreachable=True,
                                           error="connection refused")})
    assert rec.unreachable == "connection refused" and found(rec) == set()


def test_a_replica_without_the_session_is_session_lost_and_the_session_is_cleaned_up() -> None:
    rec, sent = converse(healthy_script(**{
        "notifications/initialized": recorded("sdk-unknown-session")}))
    assert found(rec) == {"mcp-session-lost"}
    assert [r.step for r in sent] == ["initialize", "notifications/initialized", "DELETE"]
    assert rec.lost[0][:2] == ("notifications/initialized", 404)
    # On the GET stream, later: same finding, the session's 400 counts too.
    rec, _ = converse(healthy_script(**{"GET stream": recorded("sdk-no-session")}))
    assert found(rec) == {"mcp-session-lost"}


def test_a_post_stream_closed_before_the_response_is_response_missing() -> None:
    note = message_event({"jsonrpc": "2.0", "method": "notifications/progress"})
    rec, sent = converse(healthy_script(**{"tools/list": sse(note)}))
    assert found(rec) == {"mcp-response-missing"}
    assert "without the JSON-RPC response" in rec.missing[0][1]
    assert sent[-1].step == "after DELETE"  # the session goes on
    other = message_event({"jsonrpc": "2.0", "id": 7, "result": {}})
    rec, _ = converse(healthy_script(**{"tools/list": sse(other)}))
    assert "a response to id 7 came instead" in rec.missing[0][1]


def test_messages_that_are_not_json_rpc_are_invalid_wherever_they_come() -> None:
    body = "data: debug: listing tools\n\n" + message_event(
        {"jsonrpc": "2.0", "id": 2, "result": {"tools": []}})
    rec, _ = converse(healthy_script(**{"tools/list": sse(body)}))
    assert found(rec) == {"mcp-invalid-message"}
    assert rec.invalid[0][:2] == ("tools/list", "not JSON (JSONDecodeError)")
    stream = sse('data: {"method": "notifications/message"}\n\n: ping\n\n', ended="deadline")
    rec, _ = converse(healthy_script(**{"GET stream": stream}))
    assert found(rec) == {"mcp-invalid-message"}
    assert rec.invalid[0][1] == 'no "jsonrpc": "2.0" member'


def test_resume_follows_the_get_streams_ids_and_judges_the_replay() -> None:
    def replay(ids: list[int], status: int = 200) -> Callable[[Request], Reply]:
        def answer(req: Request) -> Reply:
            assert dict(req.headers)["Last-Event-ID"] == "1"
            assert req.expect_ids == ("2", "3", "4")
            body = "".join(message_event({"jsonrpc": "2.0", "method": "m", "params": {}},
                                         str(i)) for i in ids)
            return sse(body, status=status, ended="response")
        return answer

    rec, _ = converse(healthy_script(**{"GET stream": get_stream(4), "resume": replay([2, 3, 4])}))
    assert found(rec) == set() and rec.resume == "ok"
    rec, _ = converse(healthy_script(**{"GET stream": get_stream(4), "resume": replay([3, 4])}))
    assert found(rec) == {"mcp-resume-broken"} and "1 of 3 events lost" in rec.resume_detail
    rec, _ = converse(healthy_script(**{"GET stream": get_stream(4),
                                        "resume": replay([1, 2, 3, 4])}))
    assert found(rec) == {"mcp-resume-broken"} and "repeated (ids 1)" in rec.resume_detail
    rec, _ = converse(healthy_script(**{"GET stream": get_stream(4),
                                        "resume": Reply(status=409, body=b"Conflict")}))
    assert found(rec) == {"mcp-resume-broken"} and "409" in rec.resume_detail
    # Events without ids: nothing to resume from, not tried.
    rec, sent = converse(healthy_script(**{"GET stream": get_stream(4, ids=False)}))
    assert "resume" not in [r.step for r in sent] and rec.resume is None


def test_resume_plan_is_bounded_and_skips_priming_events() -> None:
    items = [SseItem(0, "message", "" if i == 1 else f"m{i}", str(i)) for i in range(1, 40)]
    last, before, expected = resume_point(items)
    assert len(expected) == 10 and last == "29" and before[-1][0] == "29"
    assert resume_point(items[:1]) is None
    priming_then_response = [SseItem(0, "message", "", "p1"), SseItem(0, "message", "{}", "p2")]
    assert resume_point(priming_then_response) == ("p1", [("p1", "")], [("p2", "{}")])
    verdict, _, _ = judge_resume(Reply(status=200, headers=SSE,
                                       events=[SseItem(0, "message", "", "p3"),
                                               SseItem(0, "message", "{}", "p2")]),
                                 "p1", [("p1", "")], [("p2", "{}")])
    assert verdict == "ok"


def test_delete_outcomes() -> None:
    rec, sent = converse(healthy_script(DELETE=Reply(status=405)))
    assert found(rec) == set() and rec.terminate == "405" and sent[-1].step == "DELETE"
    alive = sse(message_event({"jsonrpc": "2.0", "id": 3, "result": {}}))
    rec, _ = converse(healthy_script(**{"after DELETE": alive}))
    assert found(rec) == {"mcp-session-not-terminated"}
    rec, _ = converse(healthy_script(**{"after DELETE": Reply(status=400)}))
    assert found(rec) == set() and rec.terminate == "ok"


def test_the_old_transport_is_found_after_a_405_and_driven() -> None:
    stream = (FIXTURES / "sdk-legacy-stream.txt").read_text()

    def on_stream(rpc_id: int, result: dict) -> Reply:
        return Reply(status=200, post_status=202, headers=[("content-type", "text/plain")],
                     events=events_of(message_event({"jsonrpc": "2.0", "id": rpc_id,
                                                     "result": result})))

    init = json.loads(recorded("sdk-sse-initialize").events[0].data)
    rec, sent = converse({
        "initialize": lambda req: (recorded("sdk-legacy-post") if req.read == "rpc"
                                   else on_stream(1, init["result"])),
        "legacy GET": Reply(status=200, headers=SSE, events=events_of(stream)),
        "notifications/initialized": Reply(status=202),
        "tools/list": on_stream(2, {"tools": [{"name": "add"}]}),
        "legacy stream": Reply(status=200, headers=SSE, events=events_of(stream),
                               ended="deadline"),
    })
    assert found(rec) == {"mcp-legacy-transport"}
    assert rec.legacy_endpoint.startswith("http://127.0.0.1:9/messages/?session_id=")
    assert sent[2].url == rec.legacy_endpoint and sent[2].read == "legacy-rpc"
    assert rec.tools == 1 and rec.version == "2025-06-18"
    assert json.loads(sent[2].body)["params"]["protocolVersion"] == "2024-11-05"


def test_a_404_without_the_old_transport_behind_it_is_initialize_failed() -> None:
    rec, _ = converse({"initialize": Reply(status=404, body=b"Not Found"),
                       "legacy GET": Reply(status=404, body=b"Not Found")})
    assert found(rec) == {"mcp-initialize-failed"}
    assert "refused with 404" in rec.init_failed


@pytest.mark.parametrize("text, kind", [
    ('{"jsonrpc":"2.0","id":1,"result":{}}', "response"),
    ('{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"x"}}', "error"),
    ('{"jsonrpc":"2.0","method":"ping","id":5}', "request"),
    ('{"jsonrpc":"2.0","method":"notifications/message"}', "notification"),
    ('{"jsonrpc":"1.0","id":1,"result":{}}', "invalid"),
    ('{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}}', "invalid"),
    ('{"jsonrpc":"2.0","id":1,"error":"boom"}', "invalid"),
    ('{"jsonrpc":"2.0","id":true,"method":"x"}', "invalid"),
    ('{"jsonrpc":"2.0"}', "invalid"),
    ("[1, 2]", "invalid"),
    ("[]", "invalid"),
    ('{"jsonrpc":"2.0","id":1,"res', "invalid"),
])
def test_json_rpc_reading(text: str, kind: str) -> None:
    assert {m.kind for m in rpc.read(text)} == {kind}


def test_session_ids_are_shown_shortened_everywhere() -> None:
    red = Redactor()
    sid = "df4384ee187e4bcc9704ec3c40c7d2da"
    red.add_shortened(sid)
    assert red.header("Mcp-Session-Id", sid) == "df4384ee…"
    assert red.header("mcp-session-id", "throwaway-on-an-error-0123") == "throwawa…"
    assert red.text(f"session {sid} refused") == "session df4384ee… refused"
    assert red.deep({"a": [sid]}) == {"a": ["df4384ee…"]}


def test_what_a_client_could_not_use_fails_initialize() -> None:
    bad_sid = recorded("sdk-sse-initialize")
    bad_sid.headers = [(k, "sess ion\u00e9" if k == "mcp-session-id" else v)
                       for k, v in bad_sid.headers]
    rec, sent = converse({"initialize": bad_sid})
    assert found(rec) == {"mcp-initialize-failed"} and len(sent) == 1
    assert "not visible ASCII" in rec.init_failed
    elsewhere = "event: endpoint\ndata: https://evil.example/messages?session_id=1\n\n"
    rec, _ = converse({"initialize": Reply(status=405),
                       "legacy GET": Reply(status=200, headers=SSE,
                                           events=events_of(elsewhere))})
    assert found(rec) == {"mcp-initialize-failed"} and "another origin" in rec.init_failed


# --- whatever a server answers, the session ends and the checks read it ----------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["jsonrpc", "id", "method", "result", "error", "code", "tools",
                         "protocolVersion", "capabilities", "serverInfo", "x"]),
        inner, max_size=4),
    max_leaves=10)
_payloads = st.one_of(
    st.text(max_size=40),
    _json_values.map(json.dumps),
    st.builds(lambda i, r: json.dumps({"jsonrpc": "2.0", "id": i, "result": r}),
              st.integers(0, 4), _json_values),
)
_events = st.lists(st.builds(SseItem, st.floats(0, 1e4), st.sampled_from(
    ["message", "endpoint", "ping"]), _payloads, st.sampled_from(["", "1", "2", "x"])),
    max_size=5)
_replies = st.builds(
    Reply,
    status=st.sampled_from([None, 200, 202, 204, 400, 404, 405, 406, 409, 421, 500]),
    t_ms=st.floats(0, 1e4),
    headers=st.lists(st.tuples(st.sampled_from(["content-type", "mcp-session-id", "x"]),
                               st.sampled_from(["text/event-stream", "application/json",
                                                "text/html", "abc123", "bad id é", ""])),
                     max_size=3),
    body=_payloads.map(str.encode),
    events=_events,
    ended=st.sampled_from(["server", "response", "deadline", "transport", ""]),
    post_status=st.sampled_from([None, 200, 202, 404]),
    error=st.text(max_size=10),
    unreachable=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_replies, min_size=16, max_size=16))
def test_any_answers_end_the_session_with_findings_never_an_exception(replies) -> None:  # noqa: ANN001
    from sse_doctor.profiles.mcp import profile_result

    session = McpSession(URL)  # auto: discover, then the 2026 walk or the 2025 session
    req, n = session.start(), 0
    while req is not None:
        assert n < len(replies), "the conversation must end"
        req, n = session.receive(replies[n]), n + 1
    findings, _ = run_mcp_checks(session.record)
    assert all(f.detail for f in findings)
    profile_result(session.record).to_json()


def test_a_refused_protocol_version_header_is_not_a_lost_session() -> None:
    refused = Reply(status=400, body=b'{"jsonrpc":"2.0","id":"server-error","error":{"code":'
                                     b'-32600,"message":"Bad Request: Unsupported protocol '
                                     b'version: 2025-06-18"}}')
    rec, _ = converse(healthy_script(**{"notifications/initialized": refused}))
    assert found(rec) == {"mcp-initialize-failed"}
    assert rec.init_failed.startswith("400 over the protocol version: the server refused "
                                      "MCP-Protocol-Version 2025-06-18")


def test_the_users_headers_win_over_the_profiles_own() -> None:
    from sse_doctor.profiles.mcp.driver import merged_headers

    protocol = [("Accept", rpc.ACCEPT_POST), ("Content-Type", "application/json"),
                ("Mcp-Session-Id", "abc")]
    user = [("accept", "application/json"), ("Host", "mcp.example.com"),
            ("Authorization", "Bearer t")]
    assert merged_headers(protocol, user) == [
        ("Content-Type", "application/json"), ("Mcp-Session-Id", "abc"),
        ("accept", "application/json"), ("Host", "mcp.example.com"),
        ("Authorization", "Bearer t")]
