"""The SseRecorder's bookkeeping (sse_doctor/sse/observe.py), fed parser output directly:
every item counted, records kept up to the timeline bound, data only for the first --keep
events, the rare items (retry, diagnostics) never lost among the common ones."""

from __future__ import annotations

import pytest

from sse_doctor.model import ProbeOptions, SseObservation
from sse_doctor.sse import observe
from sse_doctor.sse.observe import SseRecorder
from sse_doctor.sse.parser import SSEParser


def stream(n: int, comment_every: int = 0) -> bytes:
    out = [b"retry: 2500\n"]
    for i in range(1, n + 1):
        out.append(b"id: %d\nevent: tick\ndata: payload %d\n\n" % (i, i % 3))
        if comment_every and i % comment_every == 0:
            out.append(b": hb %d\n\n" % i)
    out.append(b"Data: ignored field\n\n")  # a diagnostic in the middle of the events
    out.append(b"data: last\n\n")
    return b"".join(out)


def record(body: bytes, *, keep: int, chunk: int) -> SseObservation:
    obs = SseObservation(url="http://x.invalid/")
    rec = SseRecorder(obs, 0.0, ProbeOptions(keep=keep))
    parser = SSEParser()
    for i in range(0, len(body), chunk):
        rec._take(parser.feed(body[i:i + chunk], float(i)))
    return obs


@pytest.mark.parametrize("chunk", [7, 4096, 1 << 20])
def test_everything_counted_and_kept_up_to_the_bounds(monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(observe, "MAX_TIMELINE", 50)
    obs = record(stream(120, comment_every=7), keep=10, chunk=chunk)
    assert obs.n_events == 121 and obs.n_comments == 17
    assert len(obs.events) == 50 and len(obs.comments) == 17
    assert [e.id for e in obs.events] == [str(i) for i in range(1, 51)]
    assert all(e.data is not None for e in obs.events[:10])
    assert all(e.data is None for e in obs.events[10:])
    assert [e.data_hash for e in obs.events[:6]] == [hash(f"payload {i % 3}") for i in range(1, 7)]
    assert obs.events[12].data_hash == hash("payload 1")  # kept without its data
    assert [c.text for c in obs.comments[:2]] == [" hb 7", " hb 14"]
    assert obs.retries and obs.retries[0][1] == 2500
    assert obs.diagnostics["ignored-field"] == 1
    assert obs.first_event_ms == obs.events[0].t_ms


def test_comments_still_kept_once_events_fill_the_timeline(monkeypatch) -> None:
    monkeypatch.setattr(observe, "MAX_TIMELINE", 5)
    obs = record(stream(40, comment_every=10), keep=2, chunk=1 << 20)
    assert len(obs.events) == 5 and obs.n_events == 41
    assert [c.text for c in obs.comments] == [" hb 10", " hb 20", " hb 30", " hb 40"]
