"""client-divergence: read the same bytes with httpx-sse's decoder (what most Python clients
use) and with the spec parser (what a browser does), and say where they disagree in a way
the server causes and can fix.

What httpx-sse (0.4) does differently from the WHATWG rules, read from its _decoders.py:
- a blank line dispatches an event whenever the event type, data, retry *or the last event
  id* is set; the spec dispatches only when a data line came. Its last event id is sticky
  (as the spec says), so once any id was seen, every block without data (a heartbeat
  comment ': ping' followed by its blank line, a bare blank line) becomes an empty
  'message' event; so does a block that only sets retry or id (better-sse opens every
  stream with ':' and 'retry: 2000'). That is httpx-sse's own bug (florimondmanca/httpx-sse
  #35), present on every server that sends ids, heartbeats or retry, all recommended
  practice: it is not reported, because nothing on the server should change (the Python
  client should skip events with empty data). The count is kept in the evidence.
- a block with an event type but no data line ('event: ping' alone) is dispatched by
  httpx-sse and dropped by browsers: the server meant an event that browsers never see.
  Reported: give it a data line, or send the heartbeat as a comment.
- retry is read with int(), which takes '+5000', ' 5000', '5_000' and '-1'; browsers accept
  ASCII digits only: reported.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sse_doctor.model import Finding, SseObservation, finding
from sse_doctor.sse.parser import Event, Retry, SSEParser

MAX_EXAMPLES = 5

# (event type, data, id) as a client sees it.
Seen = tuple[str, str, str]


def _httpx_sse_read(raw: bytes) -> tuple[list[Seen], list[Seen], list[int]]:
    """httpx-sse's events, split into the ones from blocks with an event or data line and
    the phantoms of blocks with neither (comments, id or retry alone); and the retry values
    it accepted."""
    # httpx-sse has no public bytes-in API; these two classes are what aiter_sse runs.
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = raw.decode("utf-8", "replace")
    lines = SSELineDecoder().decode(text) if text else []
    decoder = SSEDecoder()
    events: list[Seen] = []
    phantoms: list[Seen] = []
    retries: list[int] = []
    fields_in_block = False
    for line in lines:
        if line.partition(":")[0] in ("event", "data"):
            fields_in_block = True
        sse = decoder.decode(line)
        if sse is None:
            continue
        (events if fields_in_block else phantoms).append((sse.event, sse.data, sse.id))
        if sse.retry is not None:
            retries.append(sse.retry)
        fields_in_block = False
    return events, phantoms, retries


def _spec_read(raw: bytes) -> tuple[list[Seen], list[int]]:
    events: list[Seen] = []
    retries: list[int] = []
    for item in SSEParser().feed(raw):
        if isinstance(item, Event):
            events.append((item.type, item.data, item.id))
        elif isinstance(item, Retry):
            retries.append(item.ms)
    return events, retries


def _short(ev: Seen | None) -> Any:
    if ev is None:
        return None
    return {"event": ev[0], "data": ev[1][:120], "id": ev[2]}


def _examples(ours: list[Seen], theirs: list[Seen]) -> list[dict[str, Any]]:
    """The first places where the two event lists part, resynchronising past an event only
    httpx-sse dispatched."""
    examples = []
    i = j = 0
    while (i < len(ours) or j < len(theirs)) and len(examples) < MAX_EXAMPLES:
        a = ours[i] if i < len(ours) else None
        b = theirs[j] if j < len(theirs) else None
        if a == b:
            i += 1
            j += 1
            continue
        examples.append({"index": j, "browser": _short(a), "httpx_sse": _short(b)})
        if b is not None and b[1] == "" and (a is None or a[1] != ""):
            j += 1
        else:
            i += 1
            j += 1
    return examples


def compare(raw: bytes) -> dict[str, Any] | None:
    """Differences between httpx-sse and the spec on these bytes that the server causes,
    or None (httpx-sse's sticky-id phantom events are counted, never reported alone)."""
    theirs, phantoms, their_retries = _httpx_sse_read(raw)
    ours, our_retries = _spec_read(raw)
    out: dict[str, Any] = {"browser_events": len(ours), "httpx_sse_events": len(theirs),
                           "httpx_sse_phantom_events": len(phantoms)}
    notes: list[str] = []
    advice: list[str] = []
    if theirs != ours:
        extra = list((Counter(theirs) - Counter(ours)).elements())
        missing = Counter(ours) - Counter(theirs)
        if extra and not missing and all(e[1] == "" for e in extra):
            types = sorted({e[0] for e in extra})
            notes.append(f"{len(extra)} event(s) of type(s) {', '.join(types)} have no data "
                         "line: httpx-sse dispatches them, a browser drops them")
            advice.append("give those events a data line if clients should see them, or send "
                          "heartbeats as comments (': ping')")
        else:
            notes.append("the two parsers produce different events")
            advice.append("compare the examples and fix the serializer")
        out["examples"] = _examples(ours, theirs)
    odd_retries = sorted(set(their_retries) - set(our_retries))
    if odd_retries:
        notes.append(f"httpx-sse accepts retry value(s) {odd_retries[:5]} that browsers "
                     "ignore (not plain digits)")
        advice.append("write retry as plain digits (retry: 3000)")
        out["httpx_sse_only_retries"] = odd_retries[:5]
    if not notes:
        return None
    out["notes"] = notes
    out["advice"] = advice
    return out


def check_divergence(obs: SseObservation) -> list[Finding]:
    if not obs.streamed or not obs.raw_prefix:
        return []
    diff = compare(obs.raw_prefix)
    if diff is None:
        return []
    scope = "" if obs.n_bytes <= len(obs.raw_prefix) else \
        f" (compared over the first {len(obs.raw_prefix)} bytes)"
    return [finding(
        "client-divergence",
        "A Python client using httpx-sse would read this stream differently from a browser"
        f"{scope}: " + "; ".join(diff["notes"]) + ". To fix: " + "; ".join(diff["advice"])
        + ".", **diff)]
