"""The pure watch checks, on series built by hand (no network)."""

from __future__ import annotations

from sse_doctor.checks.watch_checks import close_wait_findings, leak_findings
from sse_doctor.codes import get
from sse_doctor.watchers import Series

END_MS = 1000.0


def series(name: str, baseline: float | None, during: list[float | None],
           after: list[float | None], *, kind: str = "metric",
           after_errors: dict[int, str] | None = None) -> Series:
    """A series read every 100 ms: the baseline at 0, `during` before END_MS, `after` from it."""
    source = "port 8000" if kind == "port" else "http://127.0.0.1:9/metrics?token=s3cret"
    s = Series(name, kind, source)
    s.baseline = baseline
    s.add(0.0, baseline)
    for i, v in enumerate(during):
        s.add(100.0 * (i + 1), v, None if v is not None else "HTTP 500 Internal Server Error")
    s.mark_end(END_MS)
    for i, v in enumerate(after):
        err = (after_errors or {}).get(i)
        if v is None and err is None:
            err = "no answer within 5 s"
        s.add(END_MS + 100.0 * i, v, err)
    return s


def test_leak_names_baseline_peak_final_and_the_grace() -> None:
    s = series('lab_pending_sessions{route="leaky-session"}', 0, [1, 2, 3], [3, 3, 3])
    [f] = leak_findings([s], "cleanup-leak", 5, "the disconnects")
    assert f.code == "cleanup-leak" and f.severity == get("cleanup-leak").severity
    assert f.detail == ('lab_pending_sessions{route="leaky-session"} was 0 before the '
                        "disconnects, peaked at 3 and is still 3 after the 5 s grace")
    assert f.evidence["baseline"] == 0 and f.evidence["peak"] == 3
    assert f.evidence["final"] == 3 and f.evidence["grace_s"] == 5
    assert f.evidence["unreadable"] is False
    js = f.evidence["series"]
    assert js["returned"] is False and js["settled_ms"] is None
    assert js["samples"][0] == [0.0, 0] and js["samples"][-1] == [END_MS + 200, 3]
    # The watch URL's secret query parameter never reaches the evidence.
    assert "s3cret" not in js["source"] and "token=" in js["source"]


def test_partly_down_but_still_above_baseline_is_a_leak() -> None:
    s = series("state.open", 2, [10, 12], [8, 5, 4])
    [f] = leak_findings([s], "storm-leak", 2.5, "the storm")
    assert f.code == "storm-leak"
    assert "was 2 before the storm, peaked at 12 and is 4 after the 2.5 s grace" in f.detail


def test_back_to_baseline_or_below_is_no_finding() -> None:
    back = series("state.open", 1, [4, 5], [3, 1, 1])
    below = series("lab_conns", 3, [4], [2, 2])
    flat = series("lab_flat", 0, [0, 0], [0, 0])
    assert leak_findings([back, below, flat], "cleanup-leak", 5, "the disconnects") == []
    assert back.settled_ms == END_MS + 100 and below.settled_ms == END_MS
    assert flat.settled_ms == END_MS


def test_unreadable_after_the_end_is_a_finding_not_a_pass() -> None:
    s = series("state.pending", 0, [1, 1], [None, None],
               after_errors={0: "HTTP 503 Service Unavailable",
                             1: "cannot connect (connection refused)"})
    [f] = leak_findings([s], "cleanup-leak", 5, "the disconnects")
    assert f.evidence["unreadable"] is True
    assert "could not be read afterwards (cannot connect (connection refused))" in f.detail
    assert "last reading was 1" in f.detail
    assert f.evidence["series"]["errors"][-1]["error"] == "cannot connect (connection refused)"


def test_unreadable_with_no_reading_finished_says_so() -> None:
    # The reading in flight at the grace deadline was cancelled: nothing was recorded.
    s = series("state.pending", 0, [0, 1], [])
    [f] = leak_findings([s], "storm-leak", 1, "the storm")
    assert "no reading completed within the grace" in f.detail


def test_a_failed_reading_during_the_run_does_not_matter_once_back() -> None:
    s = series("state.open", 0, [1, None, 2], [0, 0])
    assert leak_findings([s], "cleanup-leak", 5, "the disconnects") == []


def test_leak_ignores_close_wait_series_and_reports_established() -> None:
    est = series("ESTABLISHED on :8000", 0, [3], [3, 3], kind="port")
    cw = series("CLOSE_WAIT on :8000", 0, [0], [2, 2], kind="port")
    findings = leak_findings([est, cw], "cleanup-leak", 5, "the disconnects")
    assert [f.detail.split(" was")[0] for f in findings] == ["ESTABLISHED on :8000"]
    assert findings[0].evidence["series"]["source"] == "port 8000"


def test_close_wait_left_after_the_grace() -> None:
    cw = series("CLOSE_WAIT on :8000", 0, [0, 1], [2, 3, 3], kind="port")
    [f] = close_wait_findings([cw], 5)
    assert f.code == "close-wait-leak"
    assert f.detail == ("3 sockets on :8000 still in CLOSE_WAIT 5 s after the clients left: "
                        "the server never closed its side of the connection")
    assert f.evidence["final"] == 3


def test_close_wait_mentions_sockets_that_were_there_before() -> None:
    cw = series("CLOSE_WAIT on :8000", 1, [1], [1], kind="port")
    [f] = close_wait_findings([cw], 5, "the disconnects")
    assert f.detail.startswith("1 socket on :8000 still in CLOSE_WAIT 5 s after the disconnects"
                               " (1 was already there before)")


def test_close_wait_gone_or_unreadable_is_no_close_wait_finding() -> None:
    gone = series("CLOSE_WAIT on :8000", 0, [2], [1, 0], kind="port")
    unreadable = series("CLOSE_WAIT on :8001", 0, [0], [None], kind="port",
                        after_errors={0: "nothing listens on port 8001 any more"})
    est = series("ESTABLISHED on :8000", 0, [0], [0], kind="port")
    assert close_wait_findings([gone, unreadable, est], 5) == []
