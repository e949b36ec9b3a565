"""The counting proxy's pure core (sse_doctor/proxy/streams.py) and its HAR writer, from
hand-made events: no mitmproxy, no network."""

from __future__ import annotations

import json

import pytest

from sse_doctor import har
from sse_doctor.checks.client_checks import run_client_checks
from sse_doctor.errors import UsageError
from sse_doctor.plan import proxy as proxy_plan
from sse_doctor.proxy.har_out import to_har
from sse_doctor.proxy.streams import (
    ClientStreams,
    client_label,
    mask_secret_params,
    parse_client_key,
    stream_kind,
)
from sse_doctor.redact import Redactor

T0 = 1_800_000_000.0
TOKEN = "tok-9f8e7d6c5b4a"


def stream(i: int, t: float, client: str = "10.0.0.1", path: str = "/events",
           kind: str = "sse") -> dict:
    return {"ev": "stream", "id": f"f{i}", "t": T0 + t, "client": client, "path": path,
            "kind": kind, "method": "GET",
            "url": f"http://up.test{path}?token={TOKEN}&room=7",
            "headers": [["Accept", "text/event-stream"], ["Authorization", f"Bearer {TOKEN}"],
                        ["Cookie", f"sid={TOKEN}x"]]}


def response(i: int, t: float, status: int = 200) -> dict:
    return {"ev": "response", "id": f"f{i}", "t": T0 + t, "status": status,
            "headers": [["Content-Type", "text/event-stream; charset=utf-8"]]}


def end(i: int, t: float, note: str = "") -> dict:
    return {"ev": "end", "id": f"f{i}", "t": T0 + t, "note": note}


def chains(n_chains: int, reconnects: int, life: float = 0.3, gap: float = 0.1,
           offset: float = 0.007, client: str = "10.0.0.1") -> list[dict]:
    """Stacked reconnect loops of one client, as events in time order."""
    timed: list[tuple[float, dict]] = []
    i = 0
    for c in range(n_chains):
        t = c * offset
        for _ in range(reconnects + 1):
            i += 1
            fid = i + c * 1000
            timed += [(t, stream(fid, t, client)), (t + 0.001, response(fid, t + 0.001)),
                      (t + life, end(fid, t + life))]
            t += life + gap
    return [ev for _, ev in sorted(timed, key=lambda x: x[0])]


def fed(events: list[dict]) -> ClientStreams:
    cs = ClientStreams()
    for ev in events:
        cs.feed(ev)
    return cs


def codes(cs: ClientStreams) -> list[str]:
    return sorted(f.code for _, f in cs.findings())


# --- classifying ---------------------------------------------------------------------------
def test_client_keys_parse_and_credentials_are_shown_as_digests():
    assert parse_client_key("ip") == ("ip", "")
    assert parse_client_key("header:X-User") == ("header", "X-User")
    assert parse_client_key("Cookie:sid") == ("cookie", "sid")
    for bad in ("", "ip:x", "header:", "user:x", "query"):
        with pytest.raises(ValueError, match="--client-key"):
            parse_client_key(bad)
    assert client_label("ip", "", "10.1.2.3") == "10.1.2.3"
    assert client_label("header", "X-User", "alice") == "X-User=alice"
    assert client_label("query", "room", None) == "room=(none)"
    for kind, name in (("cookie", "sid"), ("header", "Authorization"), ("query", "token")):
        label = client_label(kind, name, TOKEN)
        assert TOKEN not in label and label.startswith(f"{name}=#")
        assert label == client_label(kind, name, TOKEN) != client_label(kind, name, "other")


def test_secret_query_parameters_in_notes_are_masked():
    said = f"Bad HTTP request line: b'GET /s?room=7&api_key={TOKEN}&sig={TOKEN}x HTTP/1.1'"
    assert mask_secret_params(said) == \
        "Bad HTTP request line: b'GET /s?room=7&api_key=[REDACTED]&sig=[REDACTED] HTTP/1.1'"
    cs = ClientStreams()
    cs.feed({"ev": "note", "t": T0, "text": f"GET /x?token={TOKEN}: refused"})
    assert TOKEN not in cs.notes[-1][1]


def test_streams_are_picked_by_accept_upgrade_or_response_type():
    assert stream_kind("GET", [("Accept", "text/event-stream")]) == "sse"
    assert stream_kind("GET", [("Upgrade", "websocket"), ("Connection", "Upgrade")]) == "ws"
    assert stream_kind("POST", [("Accept", "*/*")], "text/event-stream; charset=utf-8") == "sse"
    assert stream_kind("GET", [("Accept", "text/html")], "text/html") is None


# --- the core ------------------------------------------------------------------------------
def test_interleaved_reconnect_loops_of_one_client_are_found_live_once():
    cs = fed(chains(2, 5))
    assert codes(cs) == ["concurrent-streams", "reconnect-without-backoff"]
    fresh = cs.new_findings()
    assert sorted(f.code for _, f in fresh) == codes(cs)
    assert all(path == "/events" and f.evidence["page"] == "10.0.0.1" for path, f in fresh)
    assert "client '10.0.0.1'" in fresh[0][1].detail
    assert cs.new_findings() == []  # announced once
    (row,) = cs.live_rows(T0 + 10)
    assert row["open"] == 0 and row["total"] == 12 and row["last_minute"] == 12
    assert len(row["reconnect_gaps_ms"]) == 5 and all(
        80 <= g <= 120 for g in row["reconnect_gaps_ms"])


def test_a_loop_per_client_is_followed_separately():
    a = chains(1, 5, client="a")
    b = [dict(ev, id=ev["id"] + "b") if "id" in ev else ev
         for ev in chains(1, 3, client="b", offset=0)]
    b = [dict(ev, client="b") if ev["ev"] == "stream" else ev for ev in b]
    cs = fed(sorted(a + b, key=lambda e: e["t"]))
    found = cs.findings()
    assert [(f.code, f.evidence["page"]) for _, f in found] == [("reconnect-without-backoff", "a")]
    rows = {r["client"]: r for r in cs.live_rows(T0 + 5)}
    assert rows["a"]["total"] == 6 and rows["b"]["total"] == 4


def test_open_streams_a_storm_and_notes():
    events = []
    for i in range(70):  # a new stream every 0.5 s, none closed: a leaky tab
        events += [stream(i, i * 0.5), response(i, i * 0.5 + 0.01)]
    cs = fed(events)
    assert codes(cs) == ["concurrent-streams", "request-storm"]
    (row,) = cs.live_rows(T0 + 70 * 0.5)
    assert row["open"] == 70 and row["last_minute"] == 70
    cs.feed({"ev": "note", "t": T0, "text": "GET /x: connection refused"})
    assert cs.notes[-1][1] == "GET /x: connection refused"
    cs.feed(end(3, 100, "Client disconnected."))
    assert cs.records["f3"].note == "Client disconnected." and cs.records["f3"].end == T0 + 100
    cs.feed(end(3, 200))  # a second end changes nothing
    assert cs.records["f3"].end == T0 + 100
    for bad in ({"ev": "what"}, {"ev": "stream"}, {"t": 1}, {"ev": "end", "id": "x", "t": "z"}):
        with pytest.raises((KeyError, TypeError, ValueError)):
            cs.feed(bad)


def test_records_started_or_answered_are_handed_out_once_for_their_secrets():
    cs = ClientStreams()
    cs.feed(stream(1, 0))
    assert [r.id for r in cs.take_changed()] == ["f1"] and cs.take_changed() == []
    cs.feed(response(1, 0.01))
    cs.feed(end(1, 1))
    (rec,) = cs.take_changed()  # answered: its response headers (Set-Cookie) are new
    assert rec.status == 200 and rec.mime == "text/event-stream"


def test_memory_stays_bounded_dropping_ended_streams_first():
    cs = ClientStreams(max_records=10)
    cs.feed(stream(0, 0))  # stays open
    for i in range(1, 30):
        cs.feed(stream(i, i))
        cs.feed(end(i, i + 0.5))
    assert len(cs.records) <= 10 and cs.dropped == 20 and "f0" in cs.records


# --- HAR out -------------------------------------------------------------------------------
def test_har_out_reads_back_to_the_same_findings_and_hides_credentials():
    events = chains(2, 5)
    events += [stream(500, 0.2, path="/live"), response(500, 0.21)]  # open at the end
    events += [stream(600, 0.5, path="/ws", kind="ws"), response(600, 0.51, 101),
               end(600, 1.5)]
    cs = fed(events)
    red = Redactor()
    for rec in cs.records.values():
        red.add_url(rec.url)
        for n, v in rec.request_headers:
            red.add_header(n, v)
    doc = to_har(list(cs.records.values()), red)
    text = json.dumps(doc)
    assert TOKEN not in text and "[REDACTED]" in text
    by_url = {obs.url.split("?")[0]: obs for obs in har.observations(doc, "out.har")}
    assert set(by_url) == {"http://up.test/events", "http://up.test/live", "ws://up.test/ws"}
    mine = cs.by_path()
    for path, obs in mine.items():
        back = next(o for u, o in by_url.items() if u.endswith(path))
        assert back.kind == obs.kind
        assert [(round(r.start_ms, 2), None if r.end_ms is None else round(r.end_ms, 2),
                 r.page, r.status) for r in back.requests] == \
            [(round(r.start_ms, 2), None if r.end_ms is None else round(r.end_ms, 2),
              r.page, r.status) for r in obs.requests]
        assert sorted(f.code for f in run_client_checks(back)) == \
            sorted(f.code for f in run_client_checks(obs))
    assert doc["log"]["pages"][0]["id"] == "10.0.0.1"


# --- options -------------------------------------------------------------------------------
@pytest.mark.parametrize("args, says", [
    (("8081", "http://x"), "--listen"),
    (("127.0.0.1:99999", "http://x"), "--listen"),
    (("127.0.0.1:8081", "ws://x"), "--upstream"),
    (("127.0.0.1:8081", "http://x/api"), "origin only"),
    (("127.0.0.1:8081", "http://[::1"), "--upstream"),
])
def test_bad_options_are_usage_errors(args, says):
    with pytest.raises(UsageError, match=says):
        proxy_plan.settings(*args, "ip", None)
    with pytest.raises(UsageError, match="--client-key"):
        proxy_plan.settings("127.0.0.1:8081", "http://x", "ua", None)
    with pytest.raises(UsageError, match="--duration"):
        proxy_plan.settings("127.0.0.1:8081", "http://x", "ip", 0)
    assert proxy_plan.settings("[::1]:8081", "https://x.test:8443/", "ip", 5).upstream == \
        "https://x.test:8443"


# --- a proxy check in a suite: what the loader says before anything runs -----------------------
@pytest.mark.parametrize("keys, says", [
    ('listen = "127.0.0.1:8081"\nupstream = "http://up.test"',
     "missing 'duration': a proxy check ends when its window does"),
    ('listen = "127.0.0.1:8081"\nduration = 5', "missing 'upstream'"),
    ('url = "http://up.test"\nlisten = "127.0.0.1:8081"\nupstream = "http://up.test"\n'
     'duration = 5', "'url' is not a key of 'proxy' checks: give 'listen' and 'upstream'"),
    ('listen = "127.0.0.1:8081"\nupstream = "http://up.test"\nduration = "soon"',
     "duration: "),
])
def test_a_suites_proxy_check_is_validated_like_the_command_line(tmp_path, keys, says):
    from sse_doctor.suite.loader import SuiteInvalid, load_suite

    suite = tmp_path / "s.toml"
    suite.write_text(f'[[check]]\nname = "p"\ncommand = "proxy"\n{keys}\n')
    with pytest.raises(SuiteInvalid) as exc:
        load_suite(str(suite), env={})
    (line,) = exc.value.problems
    assert line.startswith(f'{suite}: check[1] "p": ') and says in line, line
