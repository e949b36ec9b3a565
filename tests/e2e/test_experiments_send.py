"""--send (and --subprotocol, --origin, --max-message-size) on every experiment (issue 21):
a WebSocket server that speaks only after a message (the lab's job-done) is tested by
disconnect, duplicates, storm and checkup; on SSE they are a usage error."""

from __future__ import annotations

import json

import pytest

from tests.support import cli, start_cli_together

SEND = ("--send", '{"job": 1}')


@pytest.fixture(scope="module")
def runs(lab) -> dict[str, dict]:  # noqa: ANN001
    url = lab.url("/ws/job-done").replace("http://", "ws://")
    started = start_cli_together({
        "disconnect": ("disconnect", url, "--duration", "3", *SEND, "--json", "-"),
        "disconnect-silent": ("disconnect", url, "--duration", "1", "--json", "-"),
        "duplicates": ("duplicates", url, "--connections", "2", "--duration", "1", *SEND,
                       "--json", "-"),
        "storm": ("storm", url, "--cycles", "3", "--duration", "2", "--grace", "0", *SEND,
                  "--json", "-"),
        "checkup": ("checkup", url, "--duration", "2", "--cycles", "2", "--grace", "0", *SEND,
                    "--json", "-"),
    })
    out = {}
    for name, run in started.items():
        stdout, stderr = run.communicate(120)
        assert stdout.strip(), stderr
        out[name] = json.loads(stdout)
    return out


def _connections(report: dict, scenario: str) -> list[dict]:
    (s,) = [s for s in report["scenarios"] if s["name"] == scenario]
    return s["experiment"]["connections"]


@pytest.mark.parametrize("command", ["disconnect", "duplicates", "storm"])
def test_every_connection_sends_and_the_server_answers(runs: dict, command: str) -> None:
    report = runs[command]
    conns = _connections(report, command)
    assert conns and all(c["items"] > 0 for c in conns if c["accepted"]), conns
    (s,) = report["scenarios"]
    assert s["experiment"]["settings"]["messages_sent_per_connection"] == 1
    assert '{"job": 1}' not in json.dumps(s["experiment"]["settings"])


def test_without_send_the_server_stays_silent(runs: dict) -> None:
    conns = _connections(runs["disconnect-silent"], "disconnect")
    assert conns[0]["items"] == 0


def test_checkup_sends_on_its_probe_and_every_experiment(runs: dict) -> None:
    report = runs["checkup"]
    names = [s["name"] for s in report["scenarios"]]
    assert names[:4] == ["probe", "disconnect", "duplicates", "storm"]
    assert report["scenarios"][0]["messages"][0]["dir"] == "out"
    for name in ("disconnect", "duplicates"):
        conns = _connections(report, name)
        assert any(c["items"] > 0 for c in conns), (name, conns)


def test_send_on_an_sse_url_is_a_usage_error(lab) -> None:  # noqa: ANN001
    r = cli("disconnect", lab.url("/sse/steady"), *SEND)
    assert r.returncode == 2
    assert r.stderr.strip() == "sse-doctor: error: --send is for WebSocket (ws://, wss://) URLs"
