"""`sse-doctor har FILE`: the pure client checks on hand-built request lists, the HAR reader
on the fixtures (tests/support/make_har_fixtures.py), and the real command line."""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sse_doctor import har
from sse_doctor.checks.client_checks import (
    busiest_minute,
    capture_summary,
    max_open_at_once,
    quick_reconnect_streak,
    reconnect_links,
    run_client_checks,
)
from sse_doctor.errors import UsageError
from sse_doctor.har import HarObservation, StreamRequest
from sse_doctor.plan import har as plan_har
from tests.support.make_har_fixtures import FIXTURES, entry
from tests.support.make_har_fixtures import har as make_har

FIXTURES_DIR = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "har"
EXPECTED = {
    "healthy": [],
    "leaky-tab": ["concurrent-streams", "request-storm"],
    "no-backoff": ["reconnect-without-backoff"],
    "storm": ["request-storm"],
    "websocket-duplicates": ["concurrent-streams"],
    # Real Chromium captures (tests/support/record_har.py).
    "chromium-leaky-tab": ["concurrent-streams"],
    "chromium-no-backoff": ["reconnect-without-backoff"],
    "chromium-double-socket": ["concurrent-streams"],
}


def req(start: float, end: float | None, page: str = "p") -> StreamRequest:
    return StreamRequest(start, end, page, 200)


def codes(requests: list[StreamRequest], kind: str = "sse") -> list[str]:
    return [f.code for f in run_client_checks(HarObservation("x.har", "u", kind, requests))]


# --- pure checks ---------------------------------------------------------------------------
def test_open_at_once_counts_overlaps_not_hand_offs():
    assert max_open_at_once([]) == (0, 0.0)
    # One ends exactly when the next starts: a hand-off, never two at once.
    assert max_open_at_once([req(0, 100), req(100, 200), req(200, None)])[0] == 1
    assert max_open_at_once([req(0, 100), req(50, 120), req(60, None)]) == (3, 60)
    assert codes([req(0, 100), req(100, 200)]) == []
    assert codes([req(0, None), req(5000, None)]) == ["concurrent-streams"]
    # Streams from different pages (tabs) are not one page's duplicates.
    assert codes([req(0, None, "a"), req(1, None, "b")]) == []


def test_backoff_needs_five_quick_reconnects_in_a_row():
    def chain(gaps: list[float]) -> list[StreamRequest]:
        out, t = [], 0.0
        for gap in [0.0, *gaps]:
            t += gap
            out.append(req(t, t + 50))
            t += 50
        return out

    assert quick_reconnect_streak(chain([100] * 4))[0] == 4
    assert codes(chain([100] * 4)) == []
    assert codes(chain([100] * 5)) == ["reconnect-without-backoff"]
    # A growing delay (backoff) breaks the run at the first gap of a second or more.
    assert codes(chain([100, 200, 400, 800, 1600, 3200])) == []
    assert quick_reconnect_streak(chain([100, 200, 400, 800, 1600, 100, 100]))[0] == 4
    # A request still open, or overlapping the next, is not a reconnect.
    assert quick_reconnect_streak([req(0, None), req(10, 20), req(30, 40)])[0] == 1
    (f,) = run_client_checks(HarObservation("x", "u", "sse", chain([100, 300, 200, 100, 900])))
    assert f.evidence["reconnects"] == 5 and f.evidence["median_gap_ms"] == 200
    assert f.evidence["max_gap_ms"] == 900


def stacked(chains: int, reconnects: int, life: float = 300, gap: float = 100,
            offset: float = 7) -> list[StreamRequest]:
    """`chains` reconnect loops of one page started `offset` ms apart (stacked timers): each
    stream lives `life` ms and is reopened `gap` ms after it ended."""
    out = []
    for c in range(chains):
        t = c * offset
        for _ in range(reconnects + 1):
            out.append(req(t, t + life))
            t += life + gap
    return out


def test_interleaved_reconnect_chains_are_each_followed():
    # Two loops 7 ms apart: every request starts while the other loop's stream is open, so
    # consecutive requests always overlap; each is still the reconnect of a stream that
    # ended about 100 ms before (the latest that ended: the two loops' links may cross).
    two = stacked(2, 5)
    assert max_open_at_once(two)[0] == 2
    n, gaps = quick_reconnect_streak(two)
    assert n == 5 and all(93 <= g <= 107 for g in gaps)
    assert codes(two) == ["concurrent-streams", "reconnect-without-backoff"]
    assert quick_reconnect_streak(stacked(3, 6, offset=30))[0] == 6
    # One reconnect too few on each loop is not five in a row on any of them, however many
    # loops run: the chains are not added up.
    assert quick_reconnect_streak(stacked(4, 4))[0] == 4 and "reconnect-without-backoff" \
        not in codes(stacked(4, 4))


def test_a_chain_is_a_reconnect_even_while_another_stream_stays_open():
    healthy = req(0, None)  # one stream open the whole time
    loop = [req(10 + i * 150, 10 + i * 150 + 50) for i in range(7)]  # 100 ms gaps
    n, gaps = quick_reconnect_streak([healthy, *loop])
    assert n == 6 and gaps == [100.0] * 6
    assert codes([healthy, *loop]) == ["concurrent-streams", "reconnect-without-backoff"]


def test_each_ended_stream_is_replaced_once_and_a_backoff_breaks_the_run():
    a = [req(0, 10)]
    # Two requests 5 ms after the only stream that ended: one reconnects it, the other is
    # a new stream (nothing left to replace).
    assert len(reconnect_links([*a, req(15, 20), req(15.5, 30)])) == 1
    # A loop that backs off (gaps of 1.5 s) has no quick run; when a quick loop takes over
    # later, its run is counted from its own first request.
    slow = [req(t, t + 10) for t in (0, 1510, 3020, 4530, 6040, 7550)]
    quick = [req(9000 + i * 110, 9000 + i * 110 + 10) for i in range(7)]
    assert quick_reconnect_streak(slow)[0] == 0
    n, gaps = quick_reconnect_streak([*slow, *quick])
    assert n == 6 and gaps == [100.0] * 6
    # A request that ends the moment it starts is never its own predecessor.
    assert reconnect_links([req(0, 0), req(0, 5)]) == [(0, 1)]


def test_storm_is_more_than_60_requests_in_any_minute():
    # One request per tab (page): no tab reconnects, the URL still gets them all.
    sixty = [req(i * 990, i * 990 + 10, str(i)) for i in range(60)]  # 60 within 58.4 s
    assert busiest_minute(sixty)[0] == 60 and codes(sixty) == []
    assert codes([*sixty, req(59_000, 59_010, "x")]) == ["request-storm"]
    # 61 requests spread over more than a minute are not a storm.
    spread = [req(i * 1001, i * 1001 + 10, str(i)) for i in range(61)]
    assert busiest_minute(spread)[0] == 60 and codes(spread) == []


# --- the reader and the fixtures -------------------------------------------------------------
def test_fixtures_are_what_the_generator_writes():
    for name, make in FIXTURES.items():
        on_disk = json.loads((FIXTURES_DIR / f"{name}.har").read_text())
        assert on_disk == json.loads(json.dumps(make())), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_gets_its_diagnosis(name):
    path = str(FIXTURES_DIR / f"{name}.har")
    found = sorted({f.code for obs in har.observations(har.load(path), path)
                    for f in run_client_checks(obs)})
    assert found == sorted(EXPECTED[name])


def test_real_chromium_captures_show_the_browser_behaviour():
    def one(name: str) -> HarObservation:
        path = str(FIXTURES_DIR / f"{name}.har")
        (obs,) = har.observations(har.load(path), path)
        return obs

    leaky = one("chromium-leaky-tab")
    assert len(leaky.requests) == 12 and leaky.kind == "sse"
    # Streams still open when the capture was saved (timings.receive -1), six of them served
    # and six waiting for one of Chromium's 6 connections per origin (no status yet).
    assert all(r.end_ms is None for r in leaky.requests)
    assert [r.status for r in leaky.requests] == [200] * 6 + [None] * 6
    assert capture_summary(leaky)["max_open_at_once"] == 12
    short = one("chromium-no-backoff")
    n, gaps = quick_reconnect_streak(short.requests)
    assert n == len(short.requests) - 1 >= 20  # every reconnect came at `retry: 100`
    assert all(90 <= g < 1000 for g in gaps)
    sockets = one("chromium-double-socket")
    assert sockets.kind == "ws" and [r.status for r in sockets.requests] == [101, 101]


def test_a_request_is_open_while_its_body_had_not_ended():
    url = "https://x.test/s"
    done = entry(url, 0, 500)
    waiting = entry(url, 1, 12)
    waiting["timings"]["receive"] = -1  # Chromium: `time` is then only the wait for headers
    queued = entry(url, 2, -1)
    (obs,) = har.observations(make_har([done, waiting, queued]), "f.har")
    assert [r.end_ms for r in obs.requests] == [500.0, None, None]
    # A WebSocket's `time` is its life, its timings all -1 (Chromium): a socket closed and
    # reopened is a reconnect, not two at once.
    sockets = [entry("wss://x.test/ws", at, 800, kind="websocket", status=101, mime="")
               for at in (0, 1)]
    for s in sockets:
        s["timings"] = {"send": -1, "wait": -1, "receive": -1}
    (ws,) = har.observations(make_har(sockets), "f.har")
    assert [r.end_ms for r in ws.requests] == [800.0, 1800.0]
    assert run_client_checks(ws) == []


def test_reader_finds_streams_by_resource_type_mime_type_accept_or_upgrade():
    url = "https://x.test/s"
    firefox = entry(url, 0, 100, kind="other")  # no _resourceType from Firefox
    del firefox["_resourceType"]
    by_accept = entry(url, 1, 100, kind="eventsource", mime="")
    del by_accept["_resourceType"]
    ws = entry("wss://x.test/ws", 2, -1, kind="websocket", status=101, mime="")
    del ws["_resourceType"]
    plain = entry("https://x.test/app.js", 3, 5, kind="script", mime="text/javascript")
    obs = har.observations(make_har([firefox, by_accept, ws, plain]), "f.har")
    assert [(o.url, o.kind, len(o.requests)) for o in obs] == [
        (url, "sse", 2), ("wss://x.test/ws", "ws", 1)]
    assert obs[0].requests[0] == StreamRequest(0.0, 100.0, "page_1", 200)
    assert obs[1].requests[0].end_ms is None  # time -1: still open when saved


@pytest.mark.parametrize("content, says", [
    (b"{not json", "invalid JSON"),
    (b'{"log": {}}', "no log.entries list"),
    (b'[1, 2]', "no log.entries list"),
    (b'{"log": {"entries": [{"_resourceType": "eventsource", "startedDateTime": "yesterday",'
     b' "request": {"url": "http://x/"}}]}}', "not ISO 8601"),
    (b'{"log": {"entries": [7]}}', "entry 0 is not an object"),
    (b'{"log": []}', "no log.entries list"),
    (b'{"log": {"entries": [{"_resourceType": "eventsource", "request": 5}]}}',
     "entry 0 has no request.url"),
    (b"\xff\xfe", "invalid JSON"),
])
def test_bad_files_are_usage_errors(tmp_path, content, says):
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=says):
        capture = har.load(str(path))
        har.observations(capture, str(path))












def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                         max_size=4)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    _containers, max_leaves=20)
ENTRY_KEYS = st.sampled_from(["request", "response", "_resourceType", "startedDateTime",
                              "time", "pageref", "url", "status", "content", "mimeType",
                              "headers", "name", "value"])


@st.composite
def entries(draw):
    """Entries that look like HAR entries, with any JSON in any field."""
    e = draw(st.dictionaries(ENTRY_KEYS, JSON, max_size=6))
    if draw(st.booleans()):
        e["_resourceType"] = draw(st.sampled_from(["eventsource", "websocket", "xhr", 3]))
        e["request"] = draw(st.one_of(JSON, st.fixed_dictionaries(
            {"url": st.one_of(st.sampled_from(["https://x.test/s", "http://[::1/s?key=k1"]),
                              JSON),
             "headers": st.one_of(JSON, st.lists(st.dictionaries(ENTRY_KEYS, JSON)))})))
        e["startedDateTime"] = draw(st.one_of(
            JSON, st.just("2026-11-20T14:03:00.000Z"), st.just("2026-11-20T14:03:00")))
    return e


@settings(max_examples=300, deadline=None)
@given(st.lists(entries(), max_size=6))
def test_any_json_in_a_capture_is_read_or_refused_in_one_line(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("h") / "x.har"
    path.write_text(json.dumps({"log": {"entries": items}}))
    try:
        capture = har.load(str(path))
        red = plan_har.capture_redactor(capture)
        for obs in har.observations(capture, str(path)):
            run_client_checks(obs)
            capture_summary(obs)
            red.url(obs.url)
    except UsageError as exc:
        assert "\n" not in str(exc)
