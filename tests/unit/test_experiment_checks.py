"""The pure experiment checks, on hand-built connections (legs)."""

from __future__ import annotations

from sse_doctor.checks.experiment_checks import check_duplicates, check_reconnect, check_resume
from sse_doctor.experiments.observation import Leg
from sse_doctor.model import Close, EventRec, SseObservation

SSE_HEADERS = [("content-type", "text/event-stream")]


def sse_leg(role: str, ids: list[str], *, status: int = 200, close_by: str = "deadline",
            abort: str | None = None, start_ms: float = 0.0, body: bytes = b"",
            data: list[str] | None = None) -> Leg:
    obs = SseObservation(url="http://x/s", status=status, http_version="HTTP/1.1",
                         headers=SSE_HEADERS if status == 200 else [
                             ("content-type", "application/json")])
    datas = data or [f"payload {i}" for i in ids]
    for k, (i, d) in enumerate(zip(ids, datas)):
        obs.events.append(EventRec(10.0 * (k + 1), "message", d, i, None, False, len(d), hash(d)))
    obs.n_events = len(ids)
    obs.first_event_ms = 10.0 if ids else None
    obs.body_excerpt = body
    obs.end_ms = 10.0 * (len(ids) + 1)
    obs.close = Close(close_by, obs.end_ms, None, "")
    return Leg(role, "sse", start_ms, obs, abort)


# --- reconnect-rejected ---------------------------------------------------------------------------
def test_reconnect_accepted_and_streaming_is_fine():
    assert check_reconnect(sse_leg("reconnect", ["1"]), 1, "1 abrupt disconnect (RST)") == []


def test_reconnect_refused_reports_status_and_body():
    leg = sse_leg("reconnect", [], status=409, body=b'{"error": "FILE_PROCESSING"}')
    [f] = check_reconnect(leg, 3, "1 abrupt disconnect (RST)")
    assert f.code == "reconnect-rejected" and f.severity == "error"
    assert "HTTP 409" in f.detail and "FILE_PROCESSING" in f.detail and "3 attempts" in f.detail
    assert f.evidence["status"] == 409 and f.evidence["attempts"] == 3


def test_reconnect_accepted_but_silent_is_rejected():
    [f] = check_reconnect(sse_leg("reconnect", []), 1, "a storm")
    assert "no events arrived" in f.detail


def test_no_reconnect_leg_means_nothing_to_judge():
    assert check_reconnect(None, 0, "x") == []


# --- duplicate-streams-allowed ------------------------------------------------------------------
def test_duplicates_kept_open_under_single_policy_is_an_error():
    legs = [sse_leg(f"stream #{i}", ["1", "2", "3"], start_ms=200.0 * i) for i in range(3)]
    [f] = check_duplicates(legs, "single", 3.0)
    assert f.severity == "error" and f.evidence["kept_open"] == 3
    assert f.evidence["shared_ids"] == 3 and "went to several" in f.detail


def test_duplicates_under_allow_policy_is_info():
    legs = [sse_leg(f"stream #{i}", ["1"]) for i in range(2)]
    [f] = check_duplicates(legs, "allow", 3.0)
    assert f.severity == "info"


def test_newest_wins_server_is_fine():
    legs = [sse_leg("stream #1", ["1", "2"], close_by="server"),
            sse_leg("stream #2", ["3", "4"], close_by="server"),
            sse_leg("stream #3", ["5", "6", "7"])]
    assert check_duplicates(legs, "single", 3.0) == []


def test_refused_duplicates_are_fine():
    legs = [sse_leg("stream #1", ["1", "2"]), sse_leg("stream #2", [], status=409)]
    assert check_duplicates(legs, "single", 3.0) == []


# --- resume ------------------------------------------------------------------------------------
def test_resume_continuing_after_the_id_is_fine():
    assert check_resume(sse_leg("first", ["1", "2", "3"]), sse_leg("resume", ["4", "5"])) == []


def test_resume_from_the_start_is_replay():
    [f] = check_resume(sse_leg("first", ["1", "2", "3"]), sse_leg("resume", ["1", "2", "3"]))
    assert f.code == "resume-replay" and "from the very start" in f.detail
    assert f.evidence["last_event_id"] == "3"


def test_resume_past_the_next_id_is_gap():
    [f] = check_resume(sse_leg("first", ["1", "2", "3"]), sse_leg("resume", ["9", "10"]))
    assert f.code == "resume-gap" and f.evidence["missing"] == 5 and "4..8" in f.detail


def test_resume_with_opaque_ids_seen_again_is_replay():
    first = sse_leg("first", ["a1", "b2", "c3"])
    [f] = check_resume(first, sse_leg("resume", ["b2", "c3"]))
    assert f.code == "resume-replay"
    assert check_resume(first, sse_leg("resume", ["d4"])) == []


def test_fresh_uuid_ids_with_payloads_starting_over_is_a_restart():
    """better-sse ignores Last-Event-ID and gives every event a fresh UUID: the ids never
    repeat, but the payloads start again at {"n":1}."""
    n = [f'{{"n":{i}}}' for i in (1, 2, 3)]
    first = sse_leg("first", ["9b1d-1", "9b1d-2", "9b1d-3"], data=n)
    [f] = check_resume(first, sse_leg("resume", ["c4e0-1", "c4e0-2"], data=n[:2]))
    assert f.code == "resume-replay" and f.evidence["restarted"] is True
    assert "started the stream over" in f.detail and '{"n":1}' in f.detail


def test_replayed_payloads_under_new_ids_are_duplicates():
    n = [f'{{"n":{i}}}' for i in (1, 2, 3, 4)]
    first = sse_leg("first", ["a", "b", "c"], data=n[:3])
    [f] = check_resume(first, sse_leg("resume", ["x", "y"], data=[n[2], n[3]]))
    assert f.code == "resume-replay" and f.evidence["replayed_payloads"] == 1
    assert "1 of the 2 payloads" in f.detail


def test_new_payloads_under_new_ids_are_fine():
    n = [f'{{"n":{i}}}' for i in range(1, 6)]
    first = sse_leg("first", ["a", "b", "c"], data=n[:3])
    assert check_resume(first, sse_leg("resume", ["d", "e"], data=n[3:])) == []


def test_payloads_that_repeat_anyway_prove_nothing():
    same = ['{"status":"ok"}'] * 3
    first = sse_leg("first", ["a", "b", "c"], data=same)
    assert check_resume(first, sse_leg("resume", ["d", "e"], data=same[:2])) == []


def test_timestamp_ids_jumping_are_not_a_gap():
    first = sse_leg("first", ["1700000000100", "1700000000350", "1700000000900"])
    assert check_resume(first, sse_leg("resume", ["1700000002000"])) == []


def test_stream_without_ids_cannot_resume():
    [f] = check_resume(sse_leg("first", ["", "", ""]), sse_leg("resume", ["", ""]))
    assert f.code == "no-event-ids" and f.severity == "info"


def test_resume_that_got_nothing_is_left_to_reconnect_rejected():
    assert check_resume(sse_leg("first", ["1", "2"]), sse_leg("resume", [], status=409)) == []
