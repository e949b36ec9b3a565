"""Watchers: option parsing, JSON path rules, metric selection on recorded expositions, Series
bookkeeping, and the real thing against a small Starlette app and real sockets.

No test sleeps for a fixed time: they wait on conditions with a deadline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pytest

from sse_doctor.errors import UsageError
from sse_doctor.redact import Redactor
from sse_doctor.watchers import (
    JSON_SAMPLES,
    MAX_SAMPLES,
    Series,
    WatchSpec,
    _ReadError,
    downsample_indices,
    json_value,
    parse_exposition,
    parse_selector,
    parse_watch_json,
    parse_watch_metric,
    parse_watch_port,
    parse_watches,
    select_metric,
    sparkline,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "watch"
T = TypeVar("T")


def families(name: str, content_type: str = "") -> list[Any]:
    return parse_exposition((FIXTURES / name).read_text(), content_type)


def pick(fams: list[Any], selector: str, *, strict: bool = True) -> tuple[float, int]:
    name, labels = parse_selector(selector)
    p = select_metric(fams, name, labels, strict=strict)
    return p.value, p.matched


# --- option parsing ----------------------------------------------------------------------------


def test_metric_spec_good_forms() -> None:
    s = parse_watch_metric('http://127.0.0.1:8000/metrics#lab_pending{route="a", env="x"}')
    assert s == WatchSpec("metric", 'http://127.0.0.1:8000/metrics#lab_pending{route="a", '
                          'env="x"}', "http://127.0.0.1:8000/metrics",
                          'lab_pending{route="a",env="x"}', None)
    assert s.option() == '--watch-metric http://127.0.0.1:8000/metrics#lab_pending{route="a",env="x"}'
    assert parse_watch_metric("https://h/m#up").selector == "up"
    assert parse_watch_metric("http://h/m#up{}").selector == "up"
    assert parse_watch_metric('http://h/m#up{a="b",}').selector == 'up{a="b"}'
    # Only the first '#' splits: a label value may contain one; escapes survive a round trip.
    assert parse_watch_metric('http://h/m#x{p="a#b"}').selector == 'x{p="a#b"}'
    esc = parse_watch_metric(r'http://h/m#x{p="C:\\t",q="say \"hi\""}').selector
    assert parse_selector(esc) == ("x", {"p": "C:\\t", "q": 'say "hi"'})


@pytest.mark.parametrize(("text", "message"), [
    ("http://h/metrics", "no '#' found"),
    ("http://h/metrics#", "no metric name after '#'"),
    ("ftp://h/metrics#up", "must start with http:// or https://"),
    ("h/metrics#up", "must start with http:// or https://"),
    ("http:///metrics#up", "name a host"),
    ("http://h:99999/m#up", "bad URL"),
    ("http://h/m#9lives", "does not start with a metric name"),
    ("http://h/m#up extra", "unexpected 'extra' after the metric name"),
    ('http://h/m#up{a="b"} 3', "after the metric name"),
    ("http://h/m#up{a}", "bad label selector"),
    ("http://h/m#up{a=b}", "bad label selector"),
    ('http://h/m#up{a="b" c="d"}', "bad label selector"),
    ('http://h/m#up{a="b",a="c"}', "bad label selector"),
    ('http://h/m#up{a="b"', "unexpected"),
    ('http://h/m#up{a=~"b.*"}', "only exact label matches"),
    ('http://h/m#up{a!="b"}', "only exact label matches"),
])
def test_metric_spec_bad_forms(text: str, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_watch_metric(text)
    assert str(exc.value).startswith("--watch-metric ")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_spec_messages_mask_secret_query_parameters() -> None:
    with pytest.raises(UsageError) as exc:
        parse_watch_metric("http://h/m?token=s3cr3t-value#9x")
    assert "s3cr3t-value" not in str(exc.value)
    spec = parse_watch_json("http://u:pa55word@h/state?api_key=abcdef#a.b")
    assert "abcdef" not in spec.option() and "pa55word" not in spec.option()
    assert spec.option().startswith("--watch-json http://u:[REDACTED]@h/state?api_key=")


def test_json_spec_forms() -> None:
    s = parse_watch_json("http://127.0.0.1:8000/state#sessions.pending")
    assert (s.kind, s.url, s.selector, s.port) == (
        "json", "http://127.0.0.1:8000/state", "sessions.pending", None)
    assert s.option() == "--watch-json http://127.0.0.1:8000/state#sessions.pending"
    assert parse_watch_json("http://h/state#").selector == ""  # the whole document
    for bad, message in [("http://h/state", "no '#'"), ("http://h/s#a..b", "empty segment"),
                         ("http://h/s#.a", "empty segment"), ("file:///s#a", "http://")]:
        with pytest.raises(UsageError, match=message):
            parse_watch_json(bad)


def test_port_spec() -> None:
    s = parse_watch_port(8000)
    assert (s.kind, s.port, s.url, s.option()) == ("port", 8000, None, "--watch-port 8000")
    assert parse_watch_port(1).port == 1 and parse_watch_port(65535).port == 65535
    for bad in (0, -1, 65536, True):
        with pytest.raises(UsageError, match="from 1 to 65535"):
            parse_watch_port(bad)


def test_parse_watches_keeps_order_and_drops_repeats() -> None:
    specs = parse_watches(["http://h/m#a", "http://h/m#b", "http://h/m#a"],
                          ["http://h/s#x"], [8000, 8000])
    assert [(s.kind, s.selector or s.port) for s in specs] == [
        ("metric", "a"), ("metric", "b"), ("json", "x"), ("port", 8000)]
    assert parse_watches(None, None, None) == []


# --- JSON path rules ---------------------------------------------------------------------------

DOC = {
    "open": 3, "load": 0.25, "ok": True, "down": False, "count": "17", "ratio": " 2.5 ",
    "sci": "1e3", "name": "lab", "nothing": None, "huge": "NaN",
    "sessions": {"pending": ["a", "b"], "by_user": {"u1": 1, "u2": 2}, "0": "zero-key"},
    "items": [{"n": 5}, {"n": 7}],
}


@pytest.mark.parametrize(("path", "value"), [
    ("open", 3), ("load", 0.25), ("ok", 1), ("down", 0),
    ("count", 17), ("ratio", 2.5), ("sci", 1000),
    ("sessions.pending", 2), ("sessions.by_user", 2), ("sessions.by_user.u2", 2),
    ("sessions.0", None),  # a dict key that looks like an index is still a key (a string)
    ("items.1.n", 7), ("items.-1.n", 7), ("items.0.n", 5), ("items", 2), ("", len(DOC)),
])
def test_json_path_values(path: str, value: float | None) -> None:
    if value is None:
        with pytest.raises(_ReadError, match="not a number"):
            json_value(DOC, path)
        return
    assert json_value(DOC, path) == value


@pytest.mark.parametrize(("path", "message"), [
    ("missing", "no key 'missing' in the document (keys: open, load"),
    ("sessions.missing", "no key 'missing' in sessions (keys: pending, by_user, 0)"),
    ("items.2.n", "index 2 is out of range: items has 2 items"),
    ("items.-3", "index -3 is out of range"),
    ("items.first", "items is a list; 'first' is not an index"),
    ("items.+1", "not an index"),
    ("open.value", "open is a int, which has no 'value'"),
    ("name", "name is a string ('lab'), not a number"),
    ("nothing", "nothing is null, not a number"),
    ("huge", "huge is nan, not a finite number"),
])
def test_json_path_errors(path: str, message: str) -> None:
    with pytest.raises(_ReadError) as exc:
        json_value(DOC, path)
    assert message in str(exc.value)


def test_json_whole_document_scalars() -> None:
    assert json_value(4, "") == 4
    assert json_value([1, 2, 3], "") == 3
    with pytest.raises(_ReadError, match="the document is a string"):
        json_value("busy", "")


# --- metric selection on recorded expositions -----------------------------------------------


def test_go_client_exposition() -> None:
    fams = families("go_server.prom")
    assert pick(fams, "go_goroutines") == (42, 1)
    # A counter by its sample name or by prometheus-client's family name (no _total).
    assert pick(fams, "http_requests_total") == (1342, 4)
    assert pick(fams, "http_requests") == (1342, 4)
    # Labels are a subset match; several matches are summed.
    assert pick(fams, 'http_requests_total{handler="/events"}') == (1031, 3)
    assert pick(fams, 'http_requests_total{handler="/events",code="200"}') == (1027, 1)
    assert pick(fams, 'stream_sessions_open{route="jobs"}') == (3, 2)
    assert pick(fams, 'stream_sessions_open{route="jobs",tenant="acme"}') == (1, 1)
    # Histogram parts; the +Inf bucket's label value as the exposition writes it.
    assert pick(fams, 'http_request_duration_seconds_bucket{le="+Inf"}') == (1031, 1)
    assert pick(fams, "http_request_duration_seconds_count") == (1031, 1)
    assert pick(fams, "http_request_duration_seconds_sum") == (87.25, 1)
    assert pick(fams, "process_resident_memory_bytes") == (23986176, 1)
    # Escaped label values: backslashes, quotes and newlines mean what the exposition says.
    assert pick(fams, r'upload_pending{path="C:\\tmp\\upload-7"}') == (1, 1)
    assert pick(fams, r'upload_pending{msg="waiting for \"final\" chunk\nretrying"}') == (1, 1)
    # Declared with no samples yet (a labelled gauge before its first child): 0.
    assert pick(fams, "sse_session_pending") == (0, 0)


def test_python_client_exposition() -> None:
    fams = families("python_client.prom")
    assert pick(fams, 'lab_pending_sessions{route="leaky-session"}') == (3, 1)
    assert pick(fams, "lab_pending_sessions") == (3, 2)
    assert pick(fams, "lab_disconnects") == (5, 2)
    assert pick(fams, 'lab_disconnects_total{route="clean-session"}') == (2, 1)
    assert pick(fams, "lab_stream_seconds_count") == (3, 1)
    assert pick(fams, 'lab_stream_seconds_bucket{le="5.0"}') == (2, 1)
    assert pick(fams, "lab_send_seconds_sum") == (0.01, 1)
    assert pick(fams, 'lab_build_info{version="1.2.3"}') == (1, 1)


def test_openmetrics_exposition_by_content_type() -> None:
    fams = families("openmetrics.txt", "application/openmetrics-text; version=1.0.0")
    assert pick(fams, "stream_connections") == (17, 1)
    assert pick(fams, 'stream_connections_total{route="events"}') == (17, 1)
    assert pick(fams, "stream_open") == (4, 1)


def test_metric_selection_errors() -> None:
    fams = families("go_server.prom")
    with pytest.raises(_ReadError) as exc:
        pick(fams, 'http_requests_total{code="404"}')
    assert str(exc.value).startswith(
        'no sample named http_requests_total with labels {code="404"} (have: '
        'http_requests_total{code="200",handler="/events",method="get"}, ')
    with pytest.raises(_ReadError, match=r"no metric named go_gorutines \(did you mean "
                                         r"go_goroutines\?\)"):
        pick(fams, "go_gorutines")
    with pytest.raises(_ReadError, match=r"no metric named zzz \(have: go_goroutines, .*more\)"):
        pick(fams, "zzz")
    with pytest.raises(_ReadError, match="is a histogram, not one sample: watch one of "
                                         "http_request_duration_seconds_bucket"):
        pick(fams, "http_request_duration_seconds")
    # During a run a label set that went away reads 0: a per-session child was removed.
    assert pick(fams, 'http_requests_total{code="404"}', strict=False) == (0, 0)
    with pytest.raises(_ReadError, match="no metric named"):
        pick(fams, "zzz", strict=False)
    with pytest.raises(_ReadError, match="the exposition has no metrics"):
        pick(parse_exposition(""), "up")


def test_not_an_exposition() -> None:
    with pytest.raises(_ReadError, match="not Prometheus text exposition format.*<!doctype"):
        parse_exposition("<!doctype html><html><body>Login</body></html>\n")
    with pytest.raises(_ReadError, match="not Prometheus text exposition format"):
        parse_exposition('{"open": 3}\n')
    with pytest.raises(_ReadError, match="not a finite number"):
        pick(parse_exposition("# TYPE q gauge\nq NaN\n"), "q")


# --- Series bookkeeping ------------------------------------------------------------------------


def make_series(baseline: float, values: list[float | None], end_at: int) -> Series:
    s = Series("x", "json", "http://h/s")
    s.baseline = baseline
    for i, v in enumerate(values):
        if i == end_at:
            s.mark_end(i * 100.0)
        s.add(i * 100.0, v, None if v is not None else "HTTP 502 Bad Gateway")
    return s


def test_returned_and_settled() -> None:
    s = make_series(0, [0, 2, 3, 1, 0, 0], end_at=3)
    assert (s.final(), s.peak(), s.returned(), s.settled_ms) == (0, 3, True, 400.0)
    assert s.confirmed_back()
    # It went up again after first coming back: settle time is the last return.
    s = make_series(0, [0, 2, 0, 1, 0], end_at=1)
    assert s.settled_ms == 400.0 and s.returned()
    assert not s.confirmed_back()  # one reading at baseline is not yet a confirmed return
    s = make_series(1, [1, 4, 4, 3], end_at=2)
    assert (s.returned(), s.settled_ms, s.final(), s.peak()) == (False, None, 3, 4)
    # A failed reading after the end does not move the settle time and is no return either.
    s = make_series(0, [0, 2, 0, None], end_at=2)
    assert s.settled_ms == 200.0 and s.returned() and not s.confirmed_back()
    s = make_series(0, [0, 2, None, None], end_at=2)
    assert not s.returned() and s.settled_ms is None and s.final() == 2
    assert s.error_count == 2 and s.last_error() == "HTTP 502 Bad Gateway"
    # Before mark_end every reading counts; without a baseline nothing has returned.
    s = make_series(2, [2, 5, 1], end_at=99)
    assert s.returned() and s.end_ms is None
    assert not Series("y", "json", "u").returned()


def test_mark_end_recomputes_settled_from_readings_already_taken() -> None:
    s = make_series(0, [0, 3, 0, 0], end_at=99)
    s.mark_end(150.0)
    assert s.settled_ms == 200.0 and s.confirmed_back()


def test_errors_are_bounded_and_keep_the_latest() -> None:
    s = Series("x", "metric", "http://h/m")
    for i in range(100):
        s.add(float(i), None, f"error {i}")
    assert len(s.errors) == 20 and s.error_count == 100
    assert s.errors[0] == (0.0, "error 0") and s.errors[-1] == (99.0, "error 99")


def test_downsample_indices_keep_first_last_peak() -> None:
    values: list[float | None] = [float(i % 7) for i in range(1000)]
    values[333] = 50.0
    idx = downsample_indices(values, 300, keep=[777])
    assert len(idx) <= 300 and idx == sorted(set(idx))
    assert {0, 999, 333, 777} <= set(idx)
    assert downsample_indices([1.0, 2.0], 300) == [0, 1]
    assert downsample_indices([None] * 10, 4)[0] == 0


def test_to_json_is_bounded_and_keeps_the_shape() -> None:
    s = Series('pending{route="a"}', "metric", "http://h/metrics?token=abcdef")
    s.baseline = 0
    s.add(-5.0, 0)
    for i in range(2000):
        if i == 1500:
            s.mark_end(i * 10.0)
        s.add(i * 10.0, 9.0 if i == 777 else float(i < 1600))
    js = s.to_json(Redactor())
    assert set(js) >= {"name", "kind", "source", "baseline", "final", "peak", "returned",
                       "settled_ms", "samples", "errors"}
    assert js["source"] == "http://h/metrics?token=[REDACTED]"
    assert len(js["samples"]) <= JSON_SAMPLES and js["sample_count"] == 2001
    assert js["samples"][0] == [-5.0, 0] and js["samples"][-1] == [19990.0, 0]
    assert [7770.0, 9] in js["samples"]  # the peak
    assert [16000.0, 0] in js["samples"]  # the moment it settled
    assert (js["peak"], js["final"], js["returned"], js["settled_ms"]) == (9, 0, True, 16000.0)


def test_memory_stays_bounded_and_settle_time_survives_compaction() -> None:
    s = Series("x", "metric", "http://h/m")
    s.baseline = 0
    s.mark_end(0.0)
    for i in range(3 * MAX_SAMPLES):
        s.add(float(i), 5.0 if i < 2 * MAX_SAMPLES else 0.0)
    assert len(s.samples) <= MAX_SAMPLES
    assert s.settled_ms == 2 * MAX_SAMPLES and s.peak() == 5 and s.returned()


def test_sparkline() -> None:
    s = make_series(0, [0, 1, 3, 3, 0, 0], end_at=4)
    line = sparkline(s)
    assert line.plain.startswith("▁▃██▁▁  x: 0 before, peak 3, now 0, back 0.0 s after the end")
    leak = make_series(0, [0, 3, 3], end_at=2)
    assert sparkline(leak).plain.endswith("now 3, not back")
    dead = make_series(0, [0, 2, None], end_at=2)
    assert sparkline(dead).plain.startswith("▁█·")
    assert sparkline(dead).plain.endswith("unreadable after the end")
    flat = make_series(1.5, [1.5] * 100, end_at=50)
    assert flat.name in sparkline(flat, width=10).plain
    assert sparkline(flat, width=10).plain.startswith("▁" * 10 + "  x: 1.5 before")
