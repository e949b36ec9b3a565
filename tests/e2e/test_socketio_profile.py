"""probe --profile socketio against python-socketio's own ASGI server under uvicorn (healthy,
short ping timeout, a namespace that refuses, polling only, a server that disconnects, two
workers without sticky sessions), and the official python-socketio client as a second
opinion."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import cli, finished_json, start_cli_together
from tests.support.real_servers import Served, round_robin, socketio_app, socketio_server

pytest.importorskip("socketio", reason="python-socketio is in the test extra")


def _serve(app: Any) -> Iterator[Served]:
    srv = Served(app).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def healthy() -> Iterator[Served]:
    # pings every 1 s (python-engineio announces whole seconds), waits 0.5 s for the pong: a
    # session a silent client loses within the window
    yield from _serve(socketio_app(ping_interval=1, ping_timeout=0.5))


@pytest.fixture(scope="module")
def sticky_less() -> Iterator[Served]:
    import socketio

    yield from _serve(round_robin(socketio.ASGIApp(socketio_server(ping_interval=1)),
                                  socketio.ASGIApp(socketio_server(ping_interval=1))))


@pytest.fixture(scope="module")
def polling_only() -> Iterator[Served]:
    yield from _serve(socketio_app(ping_interval=1, transports=["polling"]))


PROBE = ("--duration", "2.5", "--timeout", "3", "--json", "-")


@pytest.fixture(scope="module")
def runs(healthy, sticky_less, polling_only) -> dict[str, Any]:  # noqa: ANN001
    """Every probe of the module, started together (the module takes one window, not the
    sum of a dozen): each has its own Socket.IO session on its server."""
    ws = healthy.url("/socket.io/?EIO=4&transport=websocket", "ws")
    subscribe = ("--send", 'subscribe {"room":"orders"}')
    probes: dict[str, tuple[str, ...]] = {
        "upgrade": (healthy.url("/socket.io/"), *subscribe, "--expect-message", "subscribed"),
        "websocket": (healthy.url("/socket.io/", "ws"), "--transport", "websocket"),
        "polling": (healthy.url("/socket.io/"), "--transport", "polling"),
        "namespace": (healthy.url("/socket.io/"), "--namespace", "/admin"),
        "sticky-less": (sticky_less.url("/socket.io/"),),
        "polling-only": (polling_only.url("/socket.io/"), "--fail-on", "warning"),
        "disconnect": (healthy.url("/socket.io/"), "--send", "leave-me {}"),
        "official": (healthy.url("/socket.io/"), *subscribe),
        "secrets": (healthy.url("/socket.io/?token=url-secret-1234"), "--cookie",
                    "session=cookie-secret-5678", "--bearer", "bearer-secret-9012"),
        "expect-ok": (ws, *subscribe, "--expect-message", "subscribed", "--expect-message",
                      "orders"),
        "expect-never": (ws, "--expect-message", "never-sent"),
    }
    return start_cli_together({
        **{name: ("probe", *argv, *PROBE) for name, argv in probes.items()},
        "silent-plain": ("probe", ws, "--duration", "3", "--profile", "none", "--json", "-"),
        "silent-profile": ("probe", ws, "--duration", "3", "--json", "-"),
    })


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def test_healthy_polling_then_upgrade_keeps_the_session_alive_with_pongs(runs) -> None:
    rc, report, err = finished_json(runs, "upgrade")
    assert rc == 0, (report.get("findings"), err)
    assert codes(report) == set()
    prof = report["profile"]
    assert prof["name"] == "socketio" and prof["detected"] == "url"
    m = prof["metrics"]
    assert m["transport"] == "websocket" and m["upgrade"] == "ok"
    assert m["upgrade_ms"] is not None and m["ping_interval_ms"] == 1000
    assert m["pings"] >= 2 and m["pongs_sent"] == m["pings"]  # every ping answered
    assert m["events_by_name"] == {"welcome": 1, "subscribed": 1}
    assert m["namespace"] == "/" and m["namespace_sid"]
    assert report["close"]["by"] == "deadline" and report["close"]["code"] == 1000
    sent = [x["text"] for x in report["messages"] if x["dir"] == "out" and x["type"] == "text"]
    assert sent[:2] == ["2probe", "5"] and sent[-2:] == ["41", "1"]  # left cleanly
    assert '42["subscribe",{"room":"orders"}]' in sent
    assert [r["what"] for r in report["socketio"]["requests"]][:2] == ["handshake", "connect"]


def test_direct_websocket_and_polling_only_transports(runs) -> None:
    rc, report, _ = finished_json(runs, "websocket")
    assert rc == 0 and codes(report) == set()
    assert report["profile"]["metrics"]["transport"] == "websocket"
    assert report["profile"]["metrics"]["upgrade"] is None
    assert report["socketio"]["requests"] == []
    rc, report, _ = finished_json(runs, "polling")
    assert rc == 0 and codes(report) == set()
    m = report["profile"]["metrics"]
    assert m["transport"] == "polling" and m["pings"] >= 2 and m["events_by_name"]["welcome"] == 1


def test_a_silent_client_loses_the_session_that_the_profile_keeps(runs) -> None:
    """The issue's false all-clear: the plain probe of a Socket.IO URL never answers pings, so
    python-socketio closes it; it now gets at least the hint to use the profile."""
    _, report, _ = finished_json(runs, "silent-plain")
    assert report["close"]["by"] == "server"  # the server gave up on the silent client
    # the server's normal close, and the hint that points to --profile socketio
    assert codes(report) == {"ws-server-closed", "profile-hint"}
    _, report, _ = finished_json(runs, "silent-profile")
    assert report["profile"]["metrics"]["pings"] >= 2 and report["close"]["by"] == "deadline"


def test_a_namespace_that_refuses_is_rejected_with_its_message(runs) -> None:
    rc, report, _ = finished_json(runs, "namespace")
    assert rc == 1 and codes(report) == {"socketio-namespace-rejected"}
    [f] = report["findings"]
    assert "admins only" in f["detail"] and f["evidence"]["namespace"] == "/admin"


def test_two_workers_without_sticky_sessions_lose_the_session(runs) -> None:
    rc, report, _ = finished_json(runs, "sticky-less")
    assert rc == 1 and codes(report) == {"socketio-session-unknown"}
    assert report["close"]["by"] == "server" and report["connection"]["status"] == 200
    assert "Invalid session" in report["findings"][0]["detail"]


def test_a_server_without_websocket_upgrades(runs) -> None:
    rc, report, _ = finished_json(runs, "polling-only")
    assert rc == 1 and codes(report) == {"socketio-upgrade-failed"}
    assert report["profile"]["metrics"]["transport"] == "polling"
    assert report["profile"]["metrics"]["events_by_name"] == {"welcome": 1}
    assert report["close"]["by"] == "deadline" and report["stats"]["events"] == 1


def test_the_server_disconnecting_the_client_is_said_in_words(runs) -> None:
    rc, report, _ = finished_json(runs, "disconnect")
    assert codes(report) == {"socketio-server-disconnect"}
    assert "DISCONNECT packet" in report["findings"][0]["detail"]
    assert rc == 0  # a warning


def test_the_official_client_agrees_on_the_healthy_server(healthy, runs) -> None:
    import socketio

    got: list[str] = []

    async def run() -> str:
        client = socketio.AsyncClient(reconnection=False)
        done = asyncio.Event()

        @client.on("*")
        async def any_event(name: str, data: Any) -> None:
            got.append(name)
            if name == "subscribed":
                done.set()

        await client.connect(healthy.url(""), wait_timeout=5)
        transport = client.transport()
        await client.emit("subscribe", {"room": "orders"})
        await asyncio.wait_for(done.wait(), 5)
        await client.disconnect()
        return transport

    transport = asyncio.run(run())
    _, report, _ = finished_json(runs, "official")
    m = report["profile"]["metrics"]
    assert transport == m["transport"] == "websocket"
    assert sorted(got) == sorted(n for n, c in m["events_by_name"].items() for _ in range(c))


@pytest.mark.parametrize(("args", "message"), [
    (("--send", '{"room": 1}'), "needs an event name first"),
    (("--send", "subscribe {nope"), "--send subscribe: the argument is not JSON"),
    (("--namespace", "admin"), "invalid --namespace 'admin'"),
])
def test_bad_socketio_input_is_one_line_and_exit_2(args, message) -> None:
    r = cli("probe", "http://127.0.0.1:9/socket.io/", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and message in r.stderr


def test_transport_needs_the_socketio_profile() -> None:
    r = cli("probe", "http://127.0.0.1:9/events", "--transport", "websocket")
    assert r.returncode == 2 and "--transport needs --profile socketio" in r.stderr


def test_tokens_in_the_url_and_cookies_never_show(runs) -> None:
    rc, report, _ = finished_json(runs, "secrets")
    assert rc == 0 and codes(report) == set()
    out = json.dumps(report)
    for secret in ("url-secret-1234", "cookie-secret-5678", "bearer-secret-9012"):
        assert secret not in out


def test_expectations_on_a_ws_url_are_matched_on_events_only(runs) -> None:
    rc, report, _ = finished_json(runs, "expect-ok")
    assert rc == 0 and codes(report) == set()
    rc, report, _ = finished_json(runs, "expect-never")
    assert rc == 1 and codes(report) == {"ws-missing-expected-message"}
    assert len(report["findings"]) == 1
