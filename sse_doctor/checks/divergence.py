"""client-divergence: read the same bytes with httpx-sse's decoder (what most Python clients
use) and with the spec parser (what a browser does), and say where they disagree."""

from __future__ import annotations

from typing import Any

from sse_doctor.model import Finding, SseObservation, finding
from sse_doctor.sse.parser import Event, Retry, SSEParser

MAX_EXAMPLES = 5


def _httpx_sse_read(raw: bytes) -> tuple[list[tuple[str, str, str]], list[int]]:
    # httpx-sse has no public bytes-in API; these two classes are what aiter_sse runs.
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = raw.decode("utf-8", "replace")
    lines = SSELineDecoder().decode(text) if text else []
    decoder = SSEDecoder()
    events: list[tuple[str, str, str]] = []
    retries: list[int] = []
    for line in lines:
        sse = decoder.decode(line)
        if sse is not None:
            events.append((sse.event, sse.data, sse.id))
            if sse.retry is not None:
                retries.append(sse.retry)
    return events, retries


def _spec_read(raw: bytes) -> tuple[list[tuple[str, str, str]], list[int]]:
    events: list[tuple[str, str, str]] = []
    retries: list[int] = []
    for item in SSEParser().feed(raw):
        if isinstance(item, Event):
            events.append((item.type, item.data, item.id))
        elif isinstance(item, Retry):
            retries.append(item.ms)
    return events, retries


def _short(ev: tuple[str, str, str] | None) -> Any:
    if ev is None:
        return None
    return {"event": ev[0], "data": ev[1][:120], "id": ev[2]}


def compare(raw: bytes) -> dict[str, Any] | None:
    """Differences between httpx-sse and the spec on these bytes, or None."""
    theirs, their_retries = _httpx_sse_read(raw)
    ours, our_retries = _spec_read(raw)
    out: dict[str, Any] = {"browser_events": len(ours), "httpx_sse_events": len(theirs)}
    notes: list[str] = []
    if theirs != ours:
        empty_extra = sum(1 for e in theirs if e[1] == "") - sum(1 for e in ours if e[1] == "")
        if empty_extra > 0:
            notes.append(f"httpx-sse emits {empty_extra} empty-data event(s) a browser never "
                         "dispatches (blank lines after an id or retry was set)")
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
            # Resynchronise past an extra empty event on httpx-sse's side.
            if b is not None and b[1] == "" and (a is None or a[1] != ""):
                j += 1
            else:
                i += 1
                j += 1
        out["examples"] = examples
        if not notes:
            notes.append("the two parsers produce different events")
    odd_retries = sorted(set(their_retries) - set(our_retries))
    if odd_retries:
        notes.append(f"httpx-sse accepts retry value(s) {odd_retries[:5]} that browsers "
                     "ignore (not plain digits)")
        out["httpx_sse_only_retries"] = odd_retries[:5]
    if not notes:
        return None
    out["notes"] = notes
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
        f"{scope}: " + "; ".join(diff["notes"]) + ".", **diff)]
