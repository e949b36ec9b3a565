"""What a client did, from a browser capture or the counting proxy (har.HarObservation):
pure checks for the stream requests to one URL. The thresholds are the design's."""

from __future__ import annotations

from typing import Any

from sse_doctor.har import HarObservation, StreamRequest
from sse_doctor.model import Finding, finding, when

QUICK_RECONNECT_MS = 1000.0  # a reconnect sooner than this after the stream it replaces ended
QUICK_RECONNECT_RUN = 5  # ... this many times in a row: no backoff
STORM_WINDOW_MS = 60_000.0
STORM_LIMIT = 60  # more stream requests than this in any minute

CLIENT_CHECKS = ["concurrent-streams", "reconnect-without-backoff", "request-storm"]


def max_open_at_once(requests: list[StreamRequest]) -> tuple[int, float]:
    """The most requests open at the same moment, and the first moment it happened.
    A request still open at the end of the capture stays open; one that ends exactly when
    another starts does not overlap it."""
    moments: list[tuple[float, int]] = []
    for r in requests:
        moments.append((r.start_ms, 1))
        if r.end_ms is not None:
            moments.append((r.end_ms, -1))
    moments.sort()  # at equal times -1 sorts before +1: an end frees its slot first
    best, at, now = 0, 0.0, 0
    for t, step in moments:
        now += step
        if now > best:
            best, at = now, t
    return best, at


def reconnect_links(requests: list[StreamRequest]) -> list[tuple[int, int]]:
    """(predecessor, request) index pairs: which earlier stream each request reconnects.

    A page may run several reconnect loops at once (stacked timers), so a request is the
    reconnect of the stream that ended most recently before it started and that no other
    request reconnected yet, even while another stream is still open. A stream still open,
    or one that overlaps the request, is not replaced by it (concurrent-streams covers
    that). Indexes are into `requests`."""
    order = sorted(range(len(requests)), key=lambda i: requests[i].start_ms)
    ends = sorted((r.end_ms, i) for i, r in enumerate(requests) if r.end_ms is not None)
    ended: list[int] = []  # ended by the current start and not yet replaced, by end time
    links: list[tuple[int, int]] = []
    k = 0
    for i in order:
        start = requests[i].start_ms
        own_end = False  # a request that ends the moment it starts is not its own predecessor
        while k < len(ends) and ends[k][0] <= start:
            if ends[k][1] == i:
                own_end = True
            else:
                ended.append(ends[k][1])
            k += 1
        if ended:
            links.append((ended.pop(), i))
        if own_end:
            ended.append(i)
    return links


def quick_reconnect_streak(requests: list[StreamRequest]) -> tuple[int, list[float]]:
    """The longest run of reconnects along one chain (reconnect_links), each opened under
    QUICK_RECONNECT_MS after the stream it replaces ended, and the gaps of that run. A
    slower reconnect (a backoff) ends the run of its chain."""
    run: dict[int, int] = {}  # request -> length of the quick run ending with it
    parent: dict[int, tuple[int, float]] = {}
    best, best_at = 0, -1
    for prev, nxt in reconnect_links(requests):
        gap = requests[nxt].start_ms - (requests[prev].end_ms or 0.0)
        if gap < QUICK_RECONNECT_MS:
            run[nxt] = run.get(prev, 0) + 1
            parent[nxt] = (prev, gap)
            if run[nxt] > best:
                best, best_at = run[nxt], nxt
    gaps: list[float] = []
    while len(gaps) < best:
        best_at, gap = parent[best_at]
        gaps.append(gap)
    return best, gaps[::-1]


def busiest_minute(requests: list[StreamRequest]) -> tuple[int, float]:
    """The most requests started within any STORM_WINDOW_MS, and when that window began."""
    starts = sorted(r.start_ms for r in requests)
    best, at, lo = 0, 0.0, 0
    for hi, t in enumerate(starts):
        while t - starts[lo] >= STORM_WINDOW_MS:
            lo += 1
        if hi - lo + 1 > best:
            best, at = hi - lo + 1, starts[lo]
    return best, at


def _pages(obs: HarObservation) -> dict[str, list[StreamRequest]]:
    pages: dict[str, list[StreamRequest]] = {}
    for r in obs.requests:
        pages.setdefault(r.page, []).append(r)
    return pages


def check_concurrent(obs: HarObservation) -> list[Finding]:
    worst = None
    for page, requests in _pages(obs).items():
        n, at = max_open_at_once(requests)
        if n > 1 and (worst is None or n > worst[0]):
            worst = (n, at, page)
    if worst is None:
        return []
    n, at, page = worst
    where = f"{obs.group} {page!r}" if page else f"the {obs.group}"
    return [finding("concurrent-streams",
                    f"{n} {obs.kind.upper()} streams to this URL were open at once on {where}, "
                    f"first at {when(at)} into the capture.",
                    max_open=n, at_ms=round(at, 1), page=page)]


def check_backoff(obs: HarObservation) -> list[Finding]:
    worst: tuple[int, list[float], str] | None = None
    for page, requests in _pages(obs).items():
        n, gaps = quick_reconnect_streak(requests)
        if n >= QUICK_RECONNECT_RUN and (worst is None or n > worst[0]):
            worst = (n, gaps, page)
    if worst is None:
        return []
    n, gaps, page = worst
    gaps = sorted(gaps)
    median = gaps[len(gaps) // 2]
    return [finding("reconnect-without-backoff",
                    f"{n} reconnects in a row, each under {when(QUICK_RECONNECT_MS)} after the "
                    f"previous stream ended (median gap {when(median)}, longest "
                    f"{when(gaps[-1])}): the delay never grows.",
                    reconnects=n, median_gap_ms=round(median, 1),
                    max_gap_ms=round(gaps[-1], 1), page=page)]


def check_storm(obs: HarObservation) -> list[Finding]:
    n, at = busiest_minute(obs.requests)
    if n <= STORM_LIMIT:
        return []
    return [finding("request-storm",
                    f"{n} stream requests to this URL within one minute (from {when(at)} into "
                    f"the capture); more than {STORM_LIMIT} a minute is a storm.",
                    requests_in_minute=n, from_ms=round(at, 1))]


def run_client_checks(obs: HarObservation) -> list[Finding]:
    return check_concurrent(obs) + check_backoff(obs) + check_storm(obs)


def capture_summary(obs: HarObservation) -> dict[str, Any]:
    """The figures the client checks look at, for people (terminal, JSON)."""
    pages = sorted({r.page for r in obs.requests})
    by_page = [[r for r in obs.requests if r.page == p] for p in pages]
    return {
        "pages": len(pages),
        "max_open_at_once": max((max_open_at_once(rs)[0] for rs in by_page), default=0),
        "longest_quick_reconnect_streak": max(
            (quick_reconnect_streak(rs)[0] for rs in by_page), default=0),
        "busiest_minute": busiest_minute(obs.requests)[0],
    }
