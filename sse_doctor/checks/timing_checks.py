"""Checks on when bytes and events arrived: silences, bursts, stalls."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from sse_doctor.checks.http_checks import HEAD_AND_BODY_TOGETHER_MS
from sse_doctor.model import Finding, ProbeOptions, SseObservation, finding, when
from sse_doctor.units import same_unit

# Event types that are heartbeats by convention rather than data.
KEEPALIVE_TYPES = frozenset({"ping", "heartbeat", "keepalive", "keep-alive", "hb"})

# Reads closer together than this are one delivery (TCP and the event loop split and merge
# writes; what matters is what reached the client at about the same moment).
DELIVERY_MERGE_MS = 10.0
# A burst: at least this many records (events + comments) in one delivery after a silence
# of at least BURST_SILENCE_MS. A server that writes each event when it is produced yields
# one record per delivery whatever its timing; a buffer in the path yields bursts.
BURST_MIN_RECORDS = 3
BURST_SILENCE_MS = 250.0
BURST_SHARE = 0.5  # bursts must carry at least this share of all records
HELD_ANSWER_MIN_RECORDS = 8  # a single held first delivery: at least this many records

# Stall: data silent for max(STALL_MIN_MS, STALL_GAP_FACTOR x the usual data gap) while at
# least STALL_MIN_KEEPALIVES reads kept the connection alive.
STALL_MIN_MS = 2000.0
STALL_GAP_FACTOR = 5.0
STALL_MIN_KEEPALIVES = 3


def silences(obs: SseObservation) -> list[tuple[float, float]]:
    """(start_ms, end_ms) of every stretch without a byte, from the request to the end."""
    marks = [0.0] + [c.t_ms for c in obs.chunks]
    marks.append(max(obs.end_ms, marks[-1]))
    return [(a, b) for a, b in zip(marks, marks[1:]) if b > a]


# The idle timeout proxies most often default to: nginx's proxy_read_timeout and AWS ALB's
# idle timeout are both 60 s.
COMMON_PROXY_IDLE_MS = 60_000.0


def proxy_idle_sentence(silence_ms: float) -> str:
    """What the common 60 s proxy idle timeout says about a measured silence: that it would
    have cut the connection only when the silence was longer than that."""
    if silence_ms > COMMON_PROXY_IDLE_MS:
        return ("A proxy with the common 60 s idle timeout (nginx proxy_read_timeout, AWS "
                f"ALB) would have cut the connection 60 s into this {when(silence_ms)} "
                "silence.")
    return ("That is shorter than the common 60 s proxy idle timeout (nginx "
            "proxy_read_timeout, AWS ALB), so those would not have cut it; a proxy or load "
            f"balancer with an idle timeout under {when(silence_ms)} would.")


def check_no_heartbeat(obs: SseObservation, opts: ProbeOptions) -> list[Finding]:
    if not obs.streamed:
        return []
    gaps = silences(obs)
    if not gaps:
        return []
    start, end = max(gaps, key=lambda g: g[1] - g[0])
    longest = end - start
    if longest <= opts.idle_limit * 1000:
        return []
    over = [g for g in gaps if g[1] - g[0] > opts.idle_limit * 1000]
    longest_text, start_text = same_unit(longest, start)
    where = "before the first byte" if start == 0.0 else f"from {start_text}"
    count = "" if len(over) == 1 else f"; {len(over)} silences were over it"
    return [finding(
        "no-heartbeat",
        f"The stream was silent for {longest_text} ({where}), longer than the idle "
        f"limit of {opts.idle_limit:g} s (--idle-limit){count}. "
        + proxy_idle_sentence(longest),
        longest_silence_ms=round(longest, 1), silence_start_ms=round(start, 1),
        idle_limit_s=opts.idle_limit, silences_over_limit=len(over))]


@dataclass
class Delivery:
    t_ms: float
    end_ms: float
    size: int
    records: int
    silence_before_ms: float


def head_held_with_body(obs: SseObservation) -> bool:
    """The response head came together with the first body bytes: whatever held the body
    back (a buffering proxy, a compressor) held the head too."""
    return (obs.headers_ms is not None and obs.ttfb_ms is not None
            and obs.ttfb_ms - obs.headers_ms <= HEAD_AND_BODY_TOGETHER_MS)


def deliveries(obs: SseObservation) -> list[Delivery]:
    out: list[Delivery] = []
    # The first delivery's silence counts from the head; from the request when the head was
    # held back with it (nginx with gzip on sends a whole LLM answer, head and all, in one
    # read seconds later: every token gap is 0 ms and that silence is the buffer's).
    prev_end = 0.0 if head_held_with_body(obs) else (obs.headers_ms or 0.0)
    for c in obs.chunks:
        if out and c.t_ms - out[-1].end_ms <= DELIVERY_MERGE_MS:
            d = out[-1]
            d.end_ms, d.size, d.records = c.t_ms, d.size + c.size, d.records + c.records
        else:
            out.append(Delivery(c.t_ms, c.t_ms, c.size, c.records, c.t_ms - prev_end))
        prev_end = c.t_ms
    return out


def stalled_ms(stalls: list[tuple[float, float]], a: float, b: float) -> float:
    """How much of [a, b] (ms) the client's event loop spent stalled."""
    return sum(max(0.0, min(b, s1) - max(a, s0)) for s0, s1 in stalls)


def check_buffered(obs: SseObservation) -> list[Finding]:
    if not obs.streamed:
        return []
    ds = deliveries(obs)
    total = sum(d.records for d in ds)
    if total < BURST_MIN_RECORDS:
        return []
    # A silence the client's own event loop spent stalled (a busy machine) is not the
    # server's: what arrived after it waited in our socket, not in a buffer in front of us.
    bursts = [d for d in ds if d.records >= BURST_MIN_RECORDS
              and d.silence_before_ms - stalled_ms(obs.client_stalls, d.t_ms
                                                   - d.silence_before_ms, d.t_ms)
              >= BURST_SILENCE_MS]
    burst_records = sum(d.records for d in bursts)
    if not bursts or burst_records < BURST_SHARE * total:
        return []
    first_held = bool(ds) and ds[0] is bursts[0]
    if len(bursts) < 2 and not first_held:
        return []
    if len(bursts) < 2 and bursts[0].records < HELD_ANSWER_MIN_RECORDS:
        # One short answer, late: what any server that works out a small response before
        # writing it sends (a GraphQL error, next + complete); only a bigger held first
        # delivery says records made over time were held back together.
        return []
    sizes = sorted({d.size for d in bursts})[:8]
    detail = (
        f"{burst_records} of {total} events and comments arrived in {len(bursts)} burst(s) of "
        f"{min(d.records for d in bursts)}-{max(d.records for d in bursts)} at once, each after "
        f"a silence of {when(min(d.silence_before_ms for d in bursts))} or more. "
    )
    if first_held and head_held_with_body(obs):
        detail += (f"The response, head and first {ds[0].records} records together, was held "
                   f"back {when(ds[0].silence_before_ms)} after the request. ")
    elif first_held:
        detail += (f"The first body byte was held back {when(ds[0].silence_before_ms)} "
                   "after the headers. ")
    detail += "The server or something in front of it buffers the stream."
    return [finding(
        "buffered-delivery", detail, bursts=len(bursts), burst_records=burst_records,
        records=total, burst_sizes_bytes=sizes,
        burst_times_ms=[round(d.t_ms, 1) for d in bursts[:20]],
        first_byte_held=first_held)]


def is_data_event(type_: str) -> bool:
    return type_.lower() not in KEEPALIVE_TYPES


def check_stalled(obs: SseObservation) -> list[Finding]:
    if not obs.streamed or obs.close is None or obs.close.by in ("server", "transport"):
        return []
    data_types = {t for t in {e.type for e in obs.events} if is_data_event(t)}
    data_times = [e.t_ms for e in obs.events if e.type in data_types]
    if not data_times:
        return []
    last = data_times[-1]
    gaps = [b - a for a, b in zip(data_times, data_times[1:])]
    usual = median(gaps) if gaps else 0.0
    threshold = max(STALL_MIN_MS, STALL_GAP_FACTOR * usual)
    quiet = obs.end_ms - last
    alive = [c for c in obs.chunks if c.t_ms > last]
    if quiet < threshold or len(alive) < STALL_MIN_KEEPALIVES:
        return []
    kinds = "comments" if any(c.t_ms > last for c in obs.comments) else "keepalive bytes"
    last_text, quiet_text = same_unit(last, quiet)
    return [finding(
        "stalled-stream",
        f"The last data event came at {last_text}; for the next {quiet_text} "
        f"only {kinds} arrived ({len(alive)} reads) and no data. The connection is alive "
        "but the producer behind it stopped.",
        last_data_event_ms=round(last, 1), data_silence_ms=round(quiet, 1),
        keepalive_reads=len(alive), usual_data_gap_ms=round(usual, 1),
        data_events=len(data_times))]
