"""probe --profile graphql against strawberry-graphql under uvicorn: both WebSocket
subprotocols and graphql-sse, a subscription that completes, one that errors, a refused init
payload, a slow ack, no WebSocket subprotocol, an init timeout; the gql client as a second
opinion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support import cli, finished_json, start_cli_together
from tests.support.real_servers import Served, graphql_app

pytest.importorskip("strawberry", reason="strawberry-graphql is in the test extra")

COUNT = "subscription { count(to: 3) }"


def _serve(**kwargs: Any) -> Iterator[Served]:
    srv = Served(graphql_app(**kwargs)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    yield from _serve()


@pytest.fixture(scope="module")
def legacy() -> Iterator[Served]:
    from strawberry.subscriptions import GRAPHQL_WS_PROTOCOL

    yield from _serve(subscription_protocols=(GRAPHQL_WS_PROTOCOL,), keep_alive=True,
                      keep_alive_interval=0.2)


def probe(url: str, *args: str, duration: str = "2") -> tuple[int, dict[str, Any], str]:
    r = cli(*probe_argv(url, *args, duration=duration))
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


def probe_argv(url: str, *args: str, duration: str = "2") -> tuple[str, ...]:
    return ("probe", url, "--profile", "graphql", "--duration", duration, "--timeout", "3",
            "--json", "-", *args)


@pytest.fixture(scope="module")
def runs(server, legacy) -> dict[str, Any]:  # noqa: ANN001
    """The probes of the module's two shared servers, started together (the module takes one
    window, not the sum): each has its own connection and operation."""
    ws, http = server.url("/graphql", "ws"), server.url("/graphql", "http")
    return start_cli_together({
        "completes-ws": probe_argv(ws, "--query", COUNT),
        "completes-http": probe_argv(http, "--query", COUNT),
        "legacy": probe_argv(legacy.url("/graphql", "ws"), "--query",
                             "subscription { ticks(interval: 0.1) }", "--idle-limit", "1"),
        "query": probe_argv(ws, "--query", "{ hello }"),
        "raises-ws": probe_argv(ws, "--query", "subscription { boom }"),
        "raises-http": probe_argv(http, "--query", "subscription { boom }"),
        "refused": probe_argv(ws, "--query", COUNT, "--init-payload",
                              '{"token": "bad", "authorization": "Bearer s3cr3t"}'),
        "accepted": probe_argv(ws, "--query", COUNT, "--init-payload",
                               '{"authorization": "Bearer s3cr3t-value"}'),
        "silent": probe_argv(ws, "--query", "subscription { ticks(interval: 5) }",
                             "--idle-limit", "1", "--fail-on", "warning"),
        "gql": probe_argv(ws, "--query", COUNT),
    })


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


@pytest.mark.parametrize("scheme", ["ws", "http"])
def test_a_subscription_that_completes_is_healthy(runs, scheme) -> None:
    rc, report, err = finished_json(runs, f"completes-{scheme}")
    assert rc == 0 and codes(report) == set(), (report.get("findings"), err)
    m = report["profile"]["metrics"]
    assert m["results"] == 3 and m["completed"] and m["errors"] == 0
    assert m["first_result_ms"] is not None and m["result_gap_ms"]["max"] > 0
    if scheme == "ws":
        assert m["subprotocol"] == "graphql-transport-ws" and m["ack_ms"] is not None
        assert report["close"]["by"] == "client"  # it ended early: the operation was over
    else:
        assert m["subprotocol"] == "graphql-sse"
        assert report["close"]["by"] == "server"  # the stream ends after complete


def test_the_legacy_subprotocol_is_spoken_when_it_is_the_one_picked(runs) -> None:
    rc, report, err = finished_json(runs, "legacy")
    assert rc == 0 and codes(report) == set(), (report.get("findings"), err)
    m = report["profile"]["metrics"]
    assert m["subprotocol"] == "graphql-ws" and m["keepalive"]["ka"] >= 3
    assert 0 < m["keepalive_gap_ms"]["p50"] <= m["keepalive_gap_ms"]["max"]  # the cadence
    assert m["results"] >= 5 and not m["completed"]
    sent = [json.loads(x["text"])["type"] for x in report["messages"]
            if x["dir"] == "out" and x["type"] == "text"]
    assert sent == ["connection_init", "start", "stop", "connection_terminate"]


def test_a_query_over_websocket_gets_its_one_result(runs) -> None:
    rc, report, _ = finished_json(runs, "query")
    assert rc == 0 and codes(report) == set()
    assert report["profile"]["metrics"]["operation"] == "query"
    assert report["profile"]["metrics"]["results"] == 1


@pytest.mark.parametrize("scheme", ["ws", "http"])
def test_a_resolver_that_raises_is_an_operation_error(runs, scheme) -> None:
    rc, report, _ = finished_json(runs, f"raises-{scheme}")
    assert rc == 1 and codes(report) == {"graphql-operation-error"}
    assert "the resolver failed" in report["findings"][0]["detail"]


def test_a_refused_init_payload_is_4403_in_words_and_the_token_never_shows(runs) -> None:
    rc, report, _ = finished_json(runs, "refused")
    assert rc == 1 and codes(report) == {"graphql-close-code"}
    detail = report["findings"][0]["detail"]
    assert "4403" in detail and "forbidden" in detail
    rc, report, _ = finished_json(runs, "accepted")
    assert rc == 0 and codes(report) == set()
    out = json.dumps(report)
    assert "s3cr3t" not in out and "[REDACTED]" in out


def test_a_slow_connect_hook_is_an_ack_timeout() -> None:
    for srv in _serve(slow_ack=5.0):
        r = cli("probe", srv.url("/graphql", "ws"), "--profile", "graphql", "--query", COUNT,
                "--duration", "4", "--timeout", "1", "--json", "-")
        report = json.loads(r.stdout)
        assert r.returncode == 1 and codes(report) == {"graphql-ack-timeout"}


def test_no_graphql_subprotocol_on_the_websocket_is_a_mismatch() -> None:
    from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL

    for srv in _serve(subscription_protocols=(GRAPHQL_SSE_PROTOCOL,)):
        rc, report, _ = probe(srv.url("/graphql", "ws"), "--query", COUNT)
        assert rc == 1 and codes(report) == {"graphql-subprotocol-mismatch"}
        assert "4406" in report["findings"][0]["detail"]


def test_an_init_timeout_hints_the_profile_which_then_is_healthy() -> None:
    for srv in _serve(connection_init_wait_timeout=timedelta(seconds=0.3)):
        url = srv.url("/graphql", "ws")
        r = cli("probe", url, "--duration", "2", "--subprotocol", "graphql-transport-ws",
                "--json", "-")
        report = json.loads(r.stdout)
        assert report["close"]["code"] == 4408
        hints = [f for f in report["findings"] if f["code"] == "profile-hint"]
        assert hints and hints[0]["evidence"]["profile"] == "graphql"
        rc, report, _ = probe(url, "--query", COUNT)
        assert rc == 0 and codes(report) == set()


def test_a_silent_subscription_without_pings_has_no_keepalive(runs) -> None:
    rc, report, _ = finished_json(runs, "silent")
    assert rc == 1 and codes(report) == {"graphql-no-keepalive"}


def test_the_gql_client_agrees(server, runs) -> None:
    import asyncio

    from gql import Client, gql
    from gql.transport.websockets import WebsocketsTransport

    async def run() -> list[Any]:
        transport = WebsocketsTransport(url=server.url("/graphql", "ws"),
                                        subprotocols=["graphql-transport-ws"])
        async with Client(transport=transport) as session:
            return [r async for r in session.subscribe(gql(COUNT))]

    results = asyncio.run(asyncio.wait_for(run(), 20))
    _, report, _ = finished_json(runs, "gql")
    assert len(results) == report["profile"]["metrics"]["results"] == 3
    got = [json.loads(x["text"])["payload"]["data"] for x in report["messages"]
           if x["dir"] == "in" and '"next"' in (x["text"] or "")]
    assert got == results


@pytest.mark.parametrize(("args", "message"), [
    (("--query", "{ a }"), "--query needs --profile graphql"),
    (("--profile", "graphql"), "--profile graphql needs --query"),
    (("--profile", "graphql", "--query", "{ a }", "--variables", "{nope"),
     "--variables is not valid JSON"),
    (("--profile", "graphql", "--query", "{ a }", "--variables", "[1]"),
     "--variables must be a JSON object"),
    (("--profile", "graphql", "--query", "{ a }", "--send", "hi"), "--send does not apply"),
])
def test_bad_graphql_input_is_one_line_and_exit_2(args, message) -> None:
    r = cli("probe", "ws://127.0.0.1:9/graphql", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
