"""The MCP core's negotiation and 2026-07-28 walk, and 2025-11-25 SSE polling, without
sockets: the conversation fed the SDK 2.3 server's recorded answers (fixtures/mcp/sdk2-*,
from tests/make_mcp_fixtures.py) and hand-made broken ones; the checks they lead to."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sse_doctor.errors import UsageError
from sse_doctor.model import SseObservation
from sse_doctor.profiles.mcp import PROFILE
from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp.checks import run_mcp_checks
from sse_doctor.profiles.mcp.modern import read_discover
from sse_doctor.profiles.mcp.protocol import McpRecord, McpSession, Reply, Request
from tests.support.mcp_replies import URL, events_of, message_event, recorded, sse

Answer = Reply | Callable[[Request], Reply]


def converse(script: dict[str, Answer | list[Answer]], version: str = "auto",
             call: str | None = None, args: dict | None = None) \
        -> tuple[McpRecord, list[Request]]:
    """Each request is answered by its step's entry (a list: one entry per time asked)."""
    session = McpSession(URL, version, call, args)
    sent: list[Request] = []
    req = session.start()
    while req is not None:
        sent.append(req)
        assert len(sent) < 25, [r.step for r in sent]
        entry = script[req.step]
        answer = entry.pop(0) if isinstance(entry, list) else entry
        req = session.receive(answer(req) if callable(answer) else answer)
    return session.record, sent


def found(rec: McpRecord) -> set[str]:
    return {f.code for f in run_mcp_checks(rec)[0]}


def finding(rec: McpRecord, code: str) -> str:
    return next(f.detail for f in run_mcp_checks(rec)[0] if f.code == code)


def listen_ack(req: Request, sub_id: object = None, comments: int = 2) -> Reply:
    rpc_id = json.loads(req.body)["id"]
    ack = {"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
           "params": {"_meta": {rpc.META_SUBSCRIPTION_ID: rpc_id if sub_id is None
                                else sub_id}, "notifications": {"toolsListChanged": True}}}
    reply = sse(message_event(ack) + ": ping\n\n" * comments, ended="deadline")
    reply.observation = _held(reply, comments)
    return reply


def _held(reply: Reply, comments: int) -> SseObservation:
    obs = SseObservation(url=URL, method="POST")
    obs.status, obs.end_ms, obs.n_comments = reply.status, 1500.0, comments
    obs.n_events = len(reply.events)
    return obs


def modern_script(**changes: Answer | list[Answer]) -> dict[str, Answer | list[Answer]]:
    script: dict[str, Answer | list[Answer]] = {
        "server/discover": renumbered("sdk2-discover"),
        "tools/list": renumbered("sdk2-tools-list"),
        "resources/list": Reply(status=200, headers=[("content-type", "application/json")],
                                body=b'{"jsonrpc":"2.0","id":3,"result":{"resources":[]}}'),
        "prompts/list": Reply(status=200, headers=[("content-type", "application/json")],
                              body=b'{"jsonrpc":"2.0","id":4,"result":{"prompts":[]}}'),
        "header check": renumbered("sdk2-header-mismatch"),
        "subscriptions/listen": listen_ack,
    }
    script.update(changes)
    return script


def with_id(reply: Reply, rpc_id: int) -> Reply:
    """A recorded JSON answer renumbered to the id the walk used."""
    doc = json.loads(reply.body)
    doc["id"] = rpc_id
    return Reply(status=reply.status, headers=reply.headers, body=json.dumps(doc).encode())


def renumbered(name: str) -> Callable[[Request], Reply]:
    return lambda req: with_id(recorded(name), json.loads(req.body)["id"])


def test_auto_discovers_first_with_the_exact_2026_wire_forms_then_walks_statelessly() -> None:
    rec, sent = converse(modern_script())
    assert found(rec) == set(), rec.steps
    assert [r.step for r in sent] == ["server/discover", "tools/list", "resources/list",
                                      "prompts/list", "header check", "subscriptions/listen"]
    first = sent[0]
    h = dict(first.headers)
    body = json.loads(first.body)
    assert first.method == "POST" and body["method"] == "server/discover"
    assert h["MCP-Protocol-Version"] == "2026-07-28" and h["Mcp-Method"] == "server/discover"
    assert h["Accept"] == "application/json, text/event-stream"
    meta = body["params"]["_meta"]
    assert meta[rpc.META_PROTOCOL_VERSION] == "2026-07-28"
    assert meta[rpc.META_CLIENT_CAPABILITIES] == {}
    assert meta[rpc.META_CLIENT_INFO]["name"] == "sse-doctor"
    # No session and no initialize anywhere; each request mirrors its own method.
    for req in sent:
        assert "Mcp-Session-Id" not in dict(req.headers)
        if req.step != "header check":
            assert dict(req.headers)["Mcp-Method"] == json.loads(req.body)["method"]
    listen = json.loads(sent[-1].body)
    assert listen["params"]["notifications"] == {"toolsListChanged": True,
                                                 "resourcesListChanged": True,
                                                 "promptsListChanged": True}
    assert sent[-1].read == "hold"
    assert rec.era == "modern" and rec.version == "2026-07-28" and rec.tools == 3
    assert rec.revisions_supported == ["2026-07-28"] and rec.listen == "ok"
    assert rec.server == "sdk-demo 1.0"


def test_the_core_says_when_an_answer_is_complete() -> None:
    _, sent = converse(modern_script(), version="2026-07-28")
    req = sent[0]
    rpc_id = json.loads(req.body)["id"]
    note, answer = events_of(message_event({"jsonrpc": "2.0", "method": "notifications/x"})
                             + message_event({"jsonrpc": "2.0", "id": rpc_id, "result": {}}))
    assert req.until is not None and not req.until(note) and req.until(answer)
    other = events_of(message_event({"jsonrpc": "2.0", "id": rpc_id + 100, "result": {}}))[0]
    assert not req.until(other)


@pytest.mark.parametrize("reply, kind, supported", [
    ("sdk2-unsupported", "unsupported", ["2026-07-28"]),
    ("sdk2-header-mismatch", "modern-error", None),
    ("sdk2-modern-only-initialize", "fallback", None),  # -32602: not a modern-era code
    (Reply(status=400, headers=[("content-type", "application/json")],
           body=b'{"jsonrpc":"2.0","id":"server-error","error":{"code":-32000,'
                b'"message":"Bad Request: Server not initialized"}}'), "fallback", None),
    (Reply(status=405, body=b"Method Not Allowed"), "fallback", None),
    (Reply(status=421, body=b"Invalid Host header"), "host", None),
    (Reply(status=403, body=b"Invalid Origin header"), "host", None),
    (Reply(status=403, body=b"Forbidden"), "fallback", None),  # not about Host or Origin
    (Reply(status=400, headers=[("content-type", "application/json")],
           body=b'{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"no",'
                b'"data":{"supported":"2025-11-25"}}}'), "modern-error", None),
])
def test_discover_answers_are_read_exactly(reply: str | Reply, kind: str,
                                          supported: list[str] | None) -> None:
    answer = recorded(reply) if isinstance(reply, str) else reply
    seen = read_discover(answer, 7, "2026-07-28", [])
    assert seen.kind == kind, seen
    assert seen.supported == supported


def test_a_2025_server_that_refuses_discover_is_walked_in_its_own_session() -> None:
    # @modelcontextprotocol/server-everything: discover is 400 -32000 "Server not initialized".
    refused = Reply(status=400, headers=[("content-type", "application/json")],
                    body=b'{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: '
                         b'Server not initialized"},"id":null}')
    from tests.support.mcp_replies import healthy_script

    rec, sent = converse({**healthy_script(), "server/discover": refused})
    assert found(rec) == set()
    assert [r.step for r in sent][:2] == ["server/discover", "initialize"]
    assert json.loads(sent[1].body)["params"]["protocolVersion"] == "2025-11-25"
    assert rec.era == "handshake" and rec.version == "2025-06-18"
    assert rec.negotiation[0].startswith("discover 2026-07-28: 400 error -32000")
    assert rec.negotiation[1] == "initialize 2025-11-25: 2025-06-18"


def test_32022_naming_a_handshake_revision_falls_back_to_it() -> None:
    from tests.support.mcp_replies import healthy_script

    refusal = Reply(status=400, headers=[("content-type", "application/json")], body=(
        b'{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol '
        b'version","data":{"supported":["2025-06-18","2025-03-26"],"requested":"2026-07-28"}}}'))
    rec, sent = converse({**healthy_script(), "server/discover": refusal})
    assert found(rec) == set()
    assert json.loads(sent[1].body)["params"]["protocolVersion"] == "2025-06-18"
    assert rec.revisions_supported == ["2025-06-18", "2025-03-26"]


def test_a_modern_only_server_with_no_revision_in_common_names_what_it_speaks() -> None:
    refusal = Reply(status=400, headers=[("content-type", "application/json")], body=(
        b'{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol '
        b'version","data":{"supported":["2027-07-28"],"requested":"2026-07-28"}}}'))
    rec, sent = converse({"server/discover": refusal})
    assert [r.step for r in sent] == ["server/discover"]
    assert found(rec) == {"mcp-revision-unsupported"}
    detail = finding(rec, "mcp-revision-unsupported")
    assert "2027-07-28" in detail and "2026-07-28" in detail


def test_an_explicit_revision_the_server_will_not_speak_is_a_finding_never_silent() -> None:
    from tests.support.mcp_replies import healthy_script

    # --mcp-version 2026-07-28 on a 2025 server: said, then the session it does speak.
    refused = Reply(status=400, body=b"Bad Request: Missing session ID")
    rec, _ = converse({**healthy_script(), "server/discover": refused}, version="2026-07-28")
    assert found(rec) == {"mcp-revision-unsupported"}
    detail = finding(rec, "mcp-revision-unsupported")
    assert "--mcp-version 2026-07-28" in detail and "2025-06-18" in detail
    # --mcp-version 2025-03-26 answered with 2025-06-18: a counter-offer, named.
    rec, _ = converse(healthy_script(), version="2025-03-26")
    assert found(rec) == {"mcp-revision-unsupported"}
    assert "offered 2025-06-18 instead" in finding(rec, "mcp-revision-unsupported")
    # The revision asked for and answered: nothing to say.
    rec, _ = converse(healthy_script(), version="2025-06-18")
    assert found(rec) == set()


def test_host_and_origin_refusals_are_told_apart() -> None:
    rec, _ = converse({"server/discover": Reply(status=421, body=b"Invalid Host header")})
    assert found(rec) == {"mcp-host-rejected"}
    assert "421 Misdirected Request" in finding(rec, "mcp-host-rejected")
    assert "Host header" in finding(rec, "mcp-host-rejected")
    rec, _ = converse({"initialize": recorded("sdk-bad-host")}, version="2025-06-18")
    assert found(rec) == {"mcp-host-rejected"}
    rec, _ = converse({"server/discover": Reply(status=403, body=b"Invalid Origin header")})
    detail = finding(rec, "mcp-host-rejected")
    assert detail.startswith("403 Forbidden") and "Origin" in detail


def test_a_modern_error_to_discover_is_discover_failed() -> None:
    rec, sent = converse({"server/discover": recorded("sdk2-header-mismatch")})
    assert [r.step for r in sent] == ["server/discover"]
    assert found(rec) == {"mcp-discover-failed"}
    assert "-32020" in finding(rec, "mcp-discover-failed")


def test_a_400_that_mentions_a_version_is_not_read_as_a_version_refusal() -> None:
    from tests.support.mcp_replies import healthy_script

    odd = Reply(status=400, body=b'{"error": "server version 3 needs an api key"}')
    rec, _ = converse({**healthy_script(), "notifications/initialized": odd},
                      version="2025-06-18")
    assert found(rec) == {"mcp-session-lost"}  # a refused session, not a refused version
    refused = Reply(status=400, body=b"Bad Request: Unsupported protocol version: 2025-06-18")
    rec, _ = converse({**healthy_script(), "notifications/initialized": refused},
                      version="2025-06-18")
    assert found(rec) == {"mcp-initialize-failed"}
    assert "over the protocol version" in finding(rec, "mcp-initialize-failed")


@pytest.mark.parametrize("answer, words", [
    (lambda req: listen_ack(req, sub_id="someone-else"), "names subscription 'someone-else'"),
    (lambda req: sse(": ping\n\n", ended="deadline"), "without the acknowledgement"),
    (lambda req: sse(message_event({"jsonrpc": "2.0", "method": "notifications/tools/"
                                    "list_changed"}), ended="deadline"),
     "the first message is 'notifications/tools/list_changed'"),
    (lambda req: Reply(status=200, headers=[("content-type", "application/json")],
                       body=b'{"jsonrpc":"2.0","id":9,"result":{}}'), "not an event stream"),
])
def test_a_listen_stream_must_start_with_its_acknowledgement(answer: Answer,
                                                             words: str) -> None:
    rec, _ = converse(modern_script(**{"subscriptions/listen": answer}))
    assert found(rec) == {"mcp-listen-unacknowledged"}
    assert words in finding(rec, "mcp-listen-unacknowledged")


def test_listen_not_served_or_not_advertised_is_no_finding() -> None:
    not_found = Reply(status=404, headers=[("content-type", "application/json")],
                      body=b'{"jsonrpc":"2.0","id":6,"error":{"code":-32601,'
                           b'"message":"Method not found"}}')
    rec, _ = converse(modern_script(**{"subscriptions/listen": not_found}))
    assert found(rec) == set() and rec.listen == "unsupported"
    # Nor does the generic layer read the 404 as a failed stream.
    from sse_doctor.model import ProbeOptions
    from sse_doctor.profiles.mcp import generic_checks

    assert rec.get_observation is None
    assert generic_checks(rec, ProbeOptions())[0] == []
    quiet = Reply(status=200, headers=[("content-type", "application/json")], body=(
        b'{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],'
        b'"capabilities":{"tools":{}}}}'))
    rec, sent = converse(modern_script(**{"server/discover": quiet}))
    assert found(rec) == set() and rec.listen == "skipped"
    assert "subscriptions/listen" not in [r.step for r in sent]


def test_a_server_that_ignores_the_mirrored_headers_is_told() -> None:
    served = lambda req: with_id(recorded("sdk2-discover"), json.loads(req.body)["id"])  # noqa: E731
    rec, sent = converse(modern_script(**{"header check": served}))
    check = next(r for r in sent if r.step == "header check")
    assert dict(check.headers)["Mcp-Method"] == "tools/list"
    assert json.loads(check.body)["method"] == "server/discover"
    assert found(rec) == {"mcp-headers-ignored"}


def test_the_tool_is_called_only_when_asked_and_its_answer_judged() -> None:
    rec, sent = converse(modern_script())
    assert not any("tools/call" in r.step for r in sent) and rec.call is None
    rec, sent = converse(modern_script(**{"tools/call add": renumbered("sdk2-call")}),
                         call="add", args={"a": 2, "b": 3})
    call = next(r for r in sent if r.step == "tools/call add")
    assert dict(call.headers)["Mcp-Name"] == "add"
    assert json.loads(call.body)["params"]["arguments"] == {"a": 2, "b": 3}
    assert rec.call == "ok" and found(rec) == set()

    def result(obj: dict) -> Answer:
        return lambda req: Reply(status=200, headers=[("content-type", "application/json")],
                                 body=json.dumps({"jsonrpc": "2.0",
                                                  "id": json.loads(req.body)["id"],
                                                  "result": obj}).encode())

    ask = result({"resultType": "input_required", "requestState": "abc",
                  "inputRequests": {"confirm": {"method": "elicitation/create"}}})
    rec, sent = converse(modern_script(**{"tools/call add": ask}), call="add")
    assert rec.call == "input_required" and found(rec) == set()
    assert "input_required" in rec.steps[-2].detail and "confirm" in rec.steps[-2].detail
    assert not any("with input" in r.step for r in sent)  # no answers given: it stops there
    answers = {"confirm": {"action": "accept", "content": {"ok": True}}}
    done = result({"content": [{"type": "text", "text": "done"}]})
    session = McpSession(URL, "auto", "add", {"a": 1}, answers)
    script = modern_script(**{"tools/call add": ask, "tools/call add (with input)": done})
    req, sent = session.start(), []
    while req is not None:
        sent.append(req)
        entry = script[req.step]
        req = session.receive(entry(req) if callable(entry) else entry)
    retry = json.loads(next(r for r in sent if r.step == "tools/call add (with input)").body)
    assert retry["params"]["inputResponses"] == answers
    assert retry["params"]["requestState"] == "abc" and retry["params"]["arguments"] == {"a": 1}
    assert session.record.call == "ok"
    failed = result({"content": [{"type": "text", "text": "boom"}], "isError": True})
    rec, _ = converse(modern_script(**{"tools/call add": failed}), call="add")
    assert found(rec) == {"mcp-call-failed"} and "boom" in finding(rec, "mcp-call-failed")


def polled(last_id: str = "5", retry: int = 100) -> Reply:
    """A POST stream that primes (an id, empty data, retry) and is closed by the server."""
    return sse(f"id: {last_id}\nretry: {retry}\ndata:\n\n")


def test_sse_polling_resumes_after_retry_and_reads_the_response_there() -> None:
    from tests.support.mcp_replies import healthy_script

    tools = recorded("sdk-sse-tools-list").events[-1].data
    resumed = sse(f"id: 6\nevent: message\ndata: {tools}\n\n")
    rec, sent = converse({**healthy_script(), "tools/list": polled(),
                          "tools/list resume": resumed, "resume": resumed},
                         version="2025-06-18")
    assert found(rec) == set(), rec.steps
    resume = next(r for r in sent if r.step == "tools/list resume")
    assert resume.method == "GET" and dict(resume.headers)["Last-Event-ID"] == "5"
    assert resume.delay_s == pytest.approx(0.1)
    assert rec.tools == 3 and rec.resume == "ok"


@pytest.mark.parametrize("resumed, words", [
    (sse(": keepalive\n\n"), "the response was lost on resume"),
    (Reply(status=409, body=b"Conflict"), "the resume was refused: 409"),
    (sse(message_event({"jsonrpc": "2.0", "id": 77, "result": {}}, "6")),
     "events from another stream"),
])
def test_a_response_lost_to_sse_polling_is_resume_broken(resumed: Reply, words: str) -> None:
    from tests.support.mcp_replies import healthy_script

    rec, _ = converse({**healthy_script(), "tools/list": polled(),
                       "tools/list resume": resumed}, version="2025-06-18")
    assert found(rec) == {"mcp-resume-broken"}, rec.steps
    assert words in finding(rec, "mcp-resume-broken")


def test_profile_options_are_checked_once() -> None:
    assert PROFILE.options({}).version == "auto"
    for version in rpc.KNOWN_REVISIONS:
        assert PROFILE.options({"mcp_version": version}).version == version
    for bad, words in [({"mcp_version": "2099-01-01"}, "auto, 2024-11-05"),
                       ({"mcp_version": "latest"}, "not a revision"),
                       ({"args": "{}"}, "--args needs --call"),
                       ({"input_responses": "{}"}, "--input-responses needs --call"),
                       ({"call": "add", "args": "[1]"}, "a JSON object"),
                       ({"call": "add", "args": "{nope"}, "not JSON")]:
        with pytest.raises(UsageError, match=words):
            PROFILE.options(bad)
    popts = PROFILE.options({"call": "add", "args": '{"a": 1}'})
    assert popts.call == "add" and popts.call_args == {"a": 1}
