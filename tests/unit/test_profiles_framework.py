"""The profile framework: --profile resolution, option ownership, passive auto-detection and
profile-hint, from pure inputs."""

from __future__ import annotations

import json

import pytest

from sse_doctor.errors import UsageError
from sse_doctor.model import Close, SseObservation
from sse_doctor.profiles import resolve
from sse_doctor.profiles.hints import profile_for_url, profile_hints
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


@pytest.mark.parametrize(("url", "profile"), [
    ("https://api.openai.com/v1/chat/completions", "llm"),
    ("https://api.anthropic.com/v1/messages", "llm"),
    ("https://api.openai.com/v1/responses", "llm"),
    ("http://127.0.0.1:8000/mcp/", "mcp"),
    ("https://x.example/socket.io/?EIO=4&transport=polling", "socketio"),
    ("https://x.example/graphql", "graphql"),
    ("https://x.example/events", None),
])
def test_init_suggests_a_profile_from_the_url_alone(url: str, profile: str | None) -> None:
    assert profile_for_url(url) == profile


def _event(data: str, t: float = 0.0):  # noqa: ANN202
    from sse_doctor.sse.parser import Event

    return Event(type="message", data=data, id="", retry=None, t=t)


def test_auto_gives_up_after_a_few_events_that_no_profile_recognises() -> None:
    from sse_doctor.profiles.base import AutoTap
    from sse_doctor.target import build_target

    target = build_target(URL)
    choice = resolve("auto", "sse", URL, {})
    tap = choice.tap(target)
    assert isinstance(tap, AutoTap)
    tap.feed([_event(json.dumps({"tick": i})) for i in range(AutoTap.DETECT_EVENTS)])
    assert tap.done and tap.chosen is None and tap.first == []
    chunk = '{"object": "chat.completion.chunk", "choices": [{"delta": {"content": "x"}}]}'
    tap.feed([_event(chunk)])  # too late: the plain probe goes on as today
    assert tap.chosen is None


def test_auto_recognises_an_llm_stream_after_comments_and_replays_what_came_first() -> None:
    from sse_doctor.profiles.base import AutoTap
    from sse_doctor.sse.parser import Comment
    from sse_doctor.target import build_target

    tap = resolve("auto", "sse", URL, {}).tap(build_target(URL))
    assert isinstance(tap, AutoTap)
    role = '{"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant"}}]}'
    token = '{"object": "chat.completion.chunk", "choices": [{"delta": {"content": "hi"}}]}'
    tap.feed([Comment(t=1.0, text=" ok"), _event(role, 2.0), _event(token, 3.0)])
    assert tap.chosen is not None and tap.chosen[0].name == "llm"
    tap.feed([_event(token, 5.0)])
    obs = _obs(200, b"")
    result = tap.result(obs)
    assert result.detected == "data" and result.dialect == "openai-chat"
    assert result.metrics["ttft_ms"] == 3.0 and result.metrics["deltas"] == 2


def test_comments_alone_never_grow_the_detection_buffer_without_bound() -> None:
    from sse_doctor.profiles.base import AutoTap
    from sse_doctor.sse.parser import Comment
    from sse_doctor.target import build_target

    tap = resolve("auto", "sse", URL, {}).tap(build_target(URL))
    tap.feed([Comment(t=float(i), text="ping") for i in range(AutoTap.DETECT_ITEMS + 10)])
    assert tap.done and tap.first == []
