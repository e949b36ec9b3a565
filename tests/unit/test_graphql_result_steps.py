"""A GraphQL result holding only `errors` is a failed operation, not "first result: ok"
(issue 21): the profile's steps say what the first result carried."""

from __future__ import annotations

import json

import pytest

from sse_doctor.profiles.graphql import PROFILE
from sse_doctor.profiles.graphql.protocol import TRANSPORT_WS, GqlSession, result_status
from sse_doctor.ws.observation import WsObservation


@pytest.mark.parametrize(("payload", "status"), [
    ({"data": {"hello": "world"}}, "ok"),
    ({"data": None, "errors": [{"message": "boom"}]}, "errors"),
    ({"errors": [{"message": "boom"}]}, "errors"),
    ({"data": {"a": None}, "errors": [{"message": "a failed", "path": ["a"]}]}, "partial"),
    ({"data": {"a": 1}, "errors": []}, "ok"),
])
def test_result_status_reads_the_response_shape(payload: dict, status: str) -> None:
    assert result_status(payload) == status


@pytest.mark.parametrize(("payload", "status", "words"), [
    ({"errors": [{"message": "the resolver failed"}]}, "errors", "errors only, no data"),
    ({"data": {"hello": "x"}}, "ok", ""),
])
def test_the_first_result_step_says_what_it_carried(payload: dict, status: str,
                                                    words: str) -> None:
    s = GqlSession("{ hello }")
    s.start(0.0, TRANSPORT_WS)
    s.receive(1.0, '{"type":"connection_ack"}')
    s.receive(2.0, json.dumps({"type": "next", "id": "1", "payload": payload}))
    s.receive(3.0, '{"type":"complete","id":"1"}')
    obs = WsObservation(url="ws://x/graphql", status=101, subprotocol=TRANSPORT_WS)
    (step,) = [st for st in PROFILE.result(s, obs).steps if st.step == "first result"]
    assert (step.status, step.detail) == (status, words)
