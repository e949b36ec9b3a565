"""Passive observation of one SSE stream: the transport's raw material, parsed and kept
within fixed bounds, as an SseObservation for the checks."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from typing import Any

import httpx

from sse_doctor import feed, loop_watch
from sse_doctor.interrupt import Stopped
from sse_doctor.model import (
    MAX_BODY_EXCERPT,
    MAX_DIAG_EXAMPLES,
    MAX_RAW_PREFIX,
    MAX_TIMELINE,
    Chunk,
    Close,
    CommentRec,
    EventRec,
    ProbeOptions,
    SseObservation,
)
from sse_doctor.sse import transport
from sse_doctor.sse.parser import Comment, Diagnostic, Event, Retry, SSEParser
from sse_doctor.target import Target

# A response that is not an event stream is read only this long: a browser gives up at once.
NON_STREAM_READ_S = 1.0


class SseRecorder:
    """Transport sink: feeds the parser and keeps bounded, timestamped records."""

    def __init__(self, obs: SseObservation, t0: float, opts: ProbeOptions,
                 tap: Any = None) -> None:
        self.obs = obs
        self.t0 = t0
        self.opts = opts
        # A protocol profile's interpreter (profiles.base.Interpreter): it sees every parsed
        # item as it arrives, so it keeps its own bounded records past --keep.
        self.tap = tap
        self.parser = SSEParser()
        self.non_stream_deadline: float | None = None
        # The shell's listener (probe --follow, the live panel): it sees each batch of items.
        self.listen = feed.hook(obs)

    def head(self, head: transport.Head) -> None:
        obs = self.obs
        obs.status = head.status
        obs.http_version = head.http_version
        obs.headers = head.headers
        obs.headers_ms = (head.t - self.t0) * 1000
        if self.tap is not None:
            self.tap.head(head.status, head.headers)
        if not obs.streamed:
            self.non_stream_deadline = head.t + NON_STREAM_READ_S

    def chunk(self, t: float, data: bytes) -> bool:
        obs = self.obs
        t_ms = (t - self.t0) * 1000
        if obs.ttfb_ms is None:
            obs.ttfb_ms = t_ms
        obs.n_bytes += len(data)
        obs.n_chunks += 1
        if len(obs.raw_prefix) < MAX_RAW_PREFIX:
            obs.raw_prefix += data[: MAX_RAW_PREFIX - len(obs.raw_prefix)]
        if self.non_stream_deadline is not None:
            obs.body_excerpt = obs.raw_prefix[:MAX_BODY_EXCERPT]
            return len(obs.raw_prefix) < MAX_BODY_EXCERPT and t < self.non_stream_deadline
        items = self.parser.feed(data, t_ms)
        max_events = self.opts.max_events
        if max_events is not None:
            items = _up_to_events(items, max_events - obs.n_events)
        records = self._take(items)
        if self.listen is not None and items:
            self.listen(items)
        if len(obs.chunks) < MAX_TIMELINE:
            obs.chunks.append(Chunk(t_ms, len(data), records))
        if max_events is not None and obs.n_events >= max_events:
            return False
        return True

    def finish(self, t: float) -> None:
        if self.non_stream_deadline is None:
            self._take(self.parser.close((t - self.t0) * 1000))

    def _take(self, items: list) -> int:
        """Count and keep what the parser produced; returns events + comments completed.

        On a firehose this runs for every read of up to 64 KiB, hundreds of items each, so
        nothing here walks the items in Python once the timeline is full: the types are
        listed by map() and counted and searched by list.count/list.index, all in C; only the
        rare other items (retry, diagnostics) and the records still to keep are visited one
        by one (a per-item loop here used to be most of the probe's ingest time)."""
        if not items:
            return 0
        if self.tap is not None:
            self.tap.feed(items)
        obs = self.obs
        types = list(map(type, items))
        n_ev = types.count(Event)
        n_com = types.count(Comment)
        if n_ev and obs.first_event_ms is None:
            obs.first_event_ms = items[types.index(Event)].t
        if n_ev + n_com < len(items):
            for item in items:
                cls = type(item)
                if cls is not Event and cls is not Comment:
                    self._take_other(item)
        if n_ev and len(obs.events) < MAX_TIMELINE:
            self._keep_events(items)
        if n_com and len(obs.comments) < MAX_TIMELINE:
            comments = obs.comments
            i = -1
            for _ in range(min(n_com, MAX_TIMELINE - len(comments))):
                i = types.index(Comment, i + 1)
                item = items[i]
                comments.append(CommentRec(item.t, item.text))
        obs.n_events += n_ev
        obs.n_comments += n_com
        return n_ev + n_com

    def _keep_events(self, items: list) -> None:
        """Event records while the timeline has room; the data only for the first --keep
        events (the rest keep its hash, for the repeated-payload check)."""
        events = self.obs.events
        add = events.append
        room = MAX_TIMELINE - len(events)
        with_data = max(0, self.opts.keep - len(events))
        picked = iter([item for item in items if type(item) is Event])
        for item in islice(picked, min(with_data, room)):
            data = item.data
            add(EventRec(item.t, item.type, data, item.id, item.retry, item.truncated,
                         item.size, hash(data)))
        for item in islice(picked, max(0, room - with_data)):
            add(EventRec(item.t, item.type, None, item.id, item.retry, item.truncated,
                         item.size, hash(item.data)))

    def _take_other(self, item: object) -> None:
        obs = self.obs
        if type(item) is Retry:
            if len(obs.retries) < MAX_TIMELINE:
                obs.retries.append((item.t, item.ms))
        elif type(item) is Diagnostic:
            obs.diagnostics[item.kind] += 1
            if len(obs.diag_examples) < MAX_DIAG_EXAMPLES:
                obs.diag_examples.append((item.t, item.kind, item.detail))


def _up_to_events(items: list, n: int) -> list:
    """The items up to and including the n-th event: --max-events N stops at exactly N,
    even when one read carries many events."""
    for i, item in enumerate(items):
        if type(item) is Event:
            n -= 1
            if n <= 0:
                return items[: i + 1]
    return items


# The cyclic GC's first threshold while a stream is read. The parser allocates an object per
# event and comment and the timeline keeps a record for each of the first MAX_TIMELINE: with
# the default threshold (700 net allocations) the collector ran about 250 times over a
# 500,000-event stream and took a fifth of the ingest, though none of these objects is in a
# cycle. A higher threshold keeps collections, so memory stays bounded on an endless stream.
STREAM_GC_THRESHOLD = 50_000
_gc_raised = 0  # observations in progress (a checkup or the demo runs several at once)
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def _fewer_collections() -> Iterator[None]:
    global _gc_raised, _gc_saved
    if _gc_raised == 0:
        _gc_saved = gc.get_threshold()
        gc.set_threshold(max(_gc_saved[0], STREAM_GC_THRESHOLD), *_gc_saved[1:])
    _gc_raised += 1
    try:
        yield
    finally:
        _gc_raised -= 1
        if _gc_raised == 0 and _gc_saved is not None:
            gc.set_threshold(*_gc_saved)


def window_for(opts: ProbeOptions) -> float:
    """The observation window: --duration, stretched to see an --expect-close deadline."""
    if opts.expect_close is not None:
        return max(opts.duration, opts.expect_close + 1.0)
    return opts.duration


async def observe_sse(
    target: Target,
    opts: ProbeOptions,
    client: httpx.AsyncClient | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
    stop: asyncio.Event | None = None,
    abort: str = "fin",
    tap: Any = None,
) -> SseObservation:
    obs = SseObservation(url=target.url, method=target.method, http2_offered=target.http2,
                         started_at=datetime.now(timezone.utc))
    obs.window_s = window_for(opts)
    own_client = client is None
    if client is None:
        client = transport.make_client(target)
    t0 = obs.t0 = time.perf_counter()
    rec = SseRecorder(obs, t0, opts, tap)
    ctrl_c = feed.stop_event() if stop is None else None  # Ctrl-C in a probe session
    stalls = loop_watch.for_this_loop()
    stalls.watch()
    try:
        with _fewer_collections():
            end = await transport.stream(target, rec, t0, obs.window_s, client,
                                         extra_headers=extra_headers, stop=stop or ctrl_c,
                                         abort=abort)
    except transport.Unreachable as exc:
        obs.unreachable = str(exc)
        obs.end_ms = (time.perf_counter() - t0) * 1000
        # `close` is always an object: no response at all is the transport's doing.
        obs.close = Close("transport", obs.end_ms, None, f"no response: {exc}")
        return obs
    except Stopped:
        end = transport.End("client", time.perf_counter(),
                            f"{feed.stop_reason() or 'stopped'} before the response head")
    finally:
        stalls.release()
        obs.client_stalls = stalls.stalls_ms(t0, time.perf_counter())
        if own_client:
            await client.aclose()
    if end.by == "client" and rec.non_stream_deadline is not None:
        end.reason = "not an event stream: stopped reading"
    elif end.by == "client" and ctrl_c is not None and ctrl_c.is_set() \
            and obs.status is not None:
        end.reason = feed.stop_reason() or end.reason
    if end.by == "server":
        # Only a clean end of the body tells us a trailing event was left unterminated;
        # when we (or a broken connection) cut the stream, the tail is simply unseen.
        rec.finish(end.t)
    obs.end_ms = (end.t - t0) * 1000
    obs.close = Close(end.by, obs.end_ms, None, end.reason)
    if rec.listen is not None:
        rec.listen([obs.close])
    return obs
