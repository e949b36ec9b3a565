"""The lab's Socket.IO and GraphQL routes, probed with their profile as the demo does: each gets
exactly its diagnosis, said in words, and no traceback."""

from __future__ import annotations

import json

import pytest

from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabScenario
from tests.support import ForkedRun, start_cli_together

# The GraphQL and Socket.IO routes (the LLM and MCP ones have their own tests).
PROFILED = [s for s in SCENARIOS if "--profile" in s.probe_args and s.in_demo
            and s.probe_args[s.probe_args.index("--profile") + 1] in ("socketio", "graphql")]
WORDS = {  # what the detail must say, beyond the code
    "socketio-handshake-failed": "Unsupported protocol version",
    "socketio-session-unknown": "Session ID unknown",
    "socketio-no-upgrade": "offered no WebSocket upgrade",
    "socketio-namespace-rejected": "Not authorized",
    "socketio-ping-timeout": "pingInterval 300 ms + pingTimeout 300 ms",
    "socketio-disconnect": "the server called disconnect()",
    "socketio-garbage": "parse error",
    "graphql-ack-timeout": "No connection_ack",
    "graphql-close-code": "4500 (internal server error)",
    "graphql-no-subprotocol": "subprotocol none",
    "graphql-error": "Cannot query field 'tick'",
    "graphql-no-complete": "The query ended without complete",
    "graphql-no-keepalive": "longer than --idle-limit 2 s",
    "graphql-sse-no-complete": "The SSE stream ended without complete",
    "graphql-garbage": "sse-doctor closed with 4400",
}


@pytest.fixture(scope="module")
def probes(lab) -> dict[str, ForkedRun]:
    """Every route's probe, started together from the warmed fork server (as the demo runs
    them, all at once), not as new interpreters importing at once."""
    runs = {}
    for s in PROFILED:
        url = lab.url(s.path)
        if s.protocol == "ws":
            url = url.replace("http://", "ws://", 1)
        runs[s.name] = ("probe", url, *DEMO_ARGS, *s.probe_args, "--json", "-")
    return start_cli_together(runs)


def test_every_profile_code_has_a_lab_route() -> None:
    from sse_doctor.codes import REGISTRY

    codes = {c for c in REGISTRY if c.startswith(("socketio-", "graphql-"))}
    assert codes == {c for s in PROFILED for c in s.expect}


@pytest.mark.parametrize("scenario", PROFILED, ids=lambda s: s.name)
def test_each_route_gets_exactly_its_diagnosis(probes, scenario: LabScenario) -> None:
    out, err = probes[scenario.name].communicate(timeout=60)
    report = json.loads(out)
    assert {f["code"] for f in report["findings"]} == set(scenario.expect), err
    assert "Traceback" not in err
    expected_rc = 1 if any(f["severity"] == "error" for f in report["findings"]) else 0
    assert probes[scenario.name].returncode == expected_rc
    if scenario.name in WORDS:
        assert WORDS[scenario.name] in report["findings"][0]["detail"]
    assert report["profile"]["name"] in scenario.name


def test_a_suite_runs_both_profiles_with_their_options(lab, tmp_path) -> None:
    from tests.support import cli

    host = lab.base_url.split("//", 1)[1]
    suite = tmp_path / "protocols.toml"
    suite.write_text(f'''name = "protocols"
[defaults]
duration = 2
idle_limit = 2

[[check]]
name = "chat namespace"
url = "http://{host}/sse/socketio-namespace-rejected"
profile = "socketio"
transport = "websocket"
namespace = "/chat"

[[check]]
name = "ticks"
url = "ws://{host}/ws/graphql-healthy"
profile = "graphql"
query = "subscription Ticks($n: Int) {{ tick(n: $n) }}"
variables = '{{"n": 3}}'
init_payload = '{{"token": "suite-secret-token"}}'
''')
    out = tmp_path / "report.json"
    r = cli("run", str(suite), "--json", str(out), "-q")
    assert r.returncode == 1, r.stderr  # the namespace is refused; the subscription is fine
    entries = {e["name"]: e for e in json.loads(out.read_text())["scenarios"]}
    assert [f["code"] for f in entries["chat namespace"]["findings"]] == \
        ["socketio-namespace-rejected"]
    assert entries["chat namespace"]["profile"]["metrics"]["namespace"] == "/chat"
    assert entries["ticks"]["findings"] == []
    assert entries["ticks"]["profile"]["metrics"]["results"] >= 3
    sent = [m["text"] for m in entries["ticks"]["messages"] if m["dir"] == "out"]
    assert '"variables": {"n": 3}' in sent[1]
    assert "suite-secret-token" not in out.read_text()


def test_a_suite_check_with_a_profile_option_but_no_profile_is_invalid(tmp_path) -> None:
    from tests.support import cli

    suite = tmp_path / "bad.toml"
    suite.write_text('name = "bad"\n[[check]]\nname = "q"\nurl = "ws://127.0.0.1:9/graphql"\n'
                     'query = "{ a }"\n')
    r = cli("run", str(suite))
    assert r.returncode == 2 and "--query needs --profile graphql" in r.stderr
    assert "Traceback" not in r.stderr
