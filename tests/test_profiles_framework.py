"""The profile framework: --profile resolution, option ownership, passive auto-detection and
profile-hint, from pure inputs."""

from __future__ import annotations

import pytest

from sse_doctor.errors import UsageError
from sse_doctor.model import Close, SseObservation
from sse_doctor.profiles import resolve
from sse_doctor.profiles.hints import profile_hints
from sse_doctor.ws.observation import WsObservation

URL = "http://127.0.0.1:9/v1/chat/completions"


@pytest.mark.parametrize(("profile", "params", "message"), [
    ("bogus", {}, "unknown --profile 'bogus'"),
    ("none", {"ttft_limit": 2.0}, "--ttft-limit needs --profile llm"),
    ("auto", {"mcp_version": "2025-03-26"}, "--mcp-version needs --profile mcp"),
    ("none", {"query": "{ a }"}, "--query needs --profile graphql"),
])
def test_bad_profile_input_is_one_clear_usage_error(profile, params, message) -> None:
    with pytest.raises(UsageError, match=message.replace("-", r"\-").replace("'", "'")):
        resolve(profile, "sse", URL, params)


def test_none_uses_no_profile_and_gives_no_candidates() -> None:
    choice = resolve("none", "sse", URL, {})
    assert choice.profile is None and choice.candidates == []


def _obs(status: int, body: bytes) -> SseObservation:
    obs = SseObservation(url=URL, status=status, body_excerpt=body,
                         headers=[("content-type", "application/json")])
    obs.close = Close("server", 3.0)
    return obs


def test_mcp_missing_session_400_hints_profile_mcp() -> None:
    body = (b'{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,'
            b'"message":"Bad Request: Missing session ID"}}')
    [hint] = profile_hints(_obs(400, body), "http://127.0.0.1:9/mcp", "sse")
    assert hint.code == "profile-hint" and hint.severity == "info"
    assert hint.evidence["profile"] == "mcp" and "--profile mcp" in hint.detail


def test_any_jsonrpc_error_body_hints_mcp_but_a_plain_error_does_not() -> None:
    rpc = b'{"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "x"}}'
    assert [h.evidence["profile"] for h in profile_hints(_obs(406, rpc), URL, "sse")] == ["mcp"]
    assert profile_hints(_obs(500, b'{"error": "boom"}'), URL, "sse") == []
    assert profile_hints(_obs(200, rpc), URL, "sse") == []


def test_socketio_path_and_graphql_close_code_hint_their_profiles() -> None:
    ws = WsObservation(url="ws://127.0.0.1:9/socket.io/?EIO=4&transport=websocket")
    assert profile_hints(ws, ws.url, "ws")[0].evidence["profile"] == "socketio"
    gql = WsObservation(url="ws://127.0.0.1:9/graphql", status=101)
    gql.close = Close("server", 10.0, 4400, "Invalid message")
    assert profile_hints(gql, gql.url, "ws")[0].evidence["profile"] == "graphql"
    gql.close = Close("server", 10.0, 1000, "")
    assert profile_hints(gql, gql.url, "ws") == []


def test_an_unreachable_target_gets_no_hint() -> None:
    obs = SseObservation(url="http://127.0.0.1:9/socket.io/", unreachable="refused")
    assert profile_hints(obs, obs.url, "sse") == []
