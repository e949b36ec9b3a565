"""Checks on the response head: status, media type, caching, compression, header timing."""

from __future__ import annotations

from sse_doctor.model import Finding, SseObservation, finding

# Headers later than this, with the first body byte right behind them, mean the server held
# the head back until it had an event (EventSource's `open` waits for the head).
DELAYED_HEADERS_MS = 1000.0
HEAD_AND_BODY_TOGETHER_MS = 100.0


def _excerpt(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def check_unreachable(obs: SseObservation) -> list[Finding]:
    if obs.unreachable is None:
        return []
    return [finding("target-unreachable", f"No response from the target: {obs.unreachable}.",
                    reason=obs.unreachable)]


def check_status(obs: SseObservation) -> list[Finding]:
    if obs.status is None or obs.status < 400:
        return []
    body = _excerpt(obs.body_excerpt)
    detail = f"HTTP {obs.status}" + (f"; the body starts: {body}" if body else " with no body")
    return [finding("http-error", detail, status=obs.status, body_excerpt=body)]


def check_content_type(obs: SseObservation) -> list[Finding]:
    if obs.status is None or not 200 <= obs.status < 300 or obs.streamed:
        return []
    ctype = obs.header("content-type")
    shown = repr(ctype) if ctype else "no Content-Type at all"
    return [finding(
        "not-event-stream",
        f"HTTP {obs.status} with {shown}; expected 'text/event-stream'. "
        "A browser's EventSource fails the connection and fires 'error'.",
        content_type=ctype, body_excerpt=_excerpt(obs.body_excerpt))]


def check_cache_control(obs: SseObservation) -> list[Finding]:
    if not obs.streamed:
        return []
    cc = (obs.header("cache-control") or "").lower()
    if "no-cache" in cc or "no-store" in cc:
        return []
    shown = f"Cache-Control is {obs.header('cache-control')!r}" if cc else "no Cache-Control"
    return [finding("missing-no-cache",
                    f"The stream was served with {shown}; intermediaries may cache or "
                    "coalesce it.", cache_control=obs.header("cache-control"))]


# Content-Encoding values that mean "not encoded": `identity` (RFC 9110 8.4.1) and the
# non-standard `none` that some servers send (graphql-yoga).
UNENCODED = frozenset({"identity", "none"})


def content_codings(headers: list[tuple[str, str]]) -> list[str]:
    """The content codings of Content-Encoding as RFC 9110 reads them: every field line
    of the name joined into one list (5.3), split on commas with optional whitespace and
    empty elements dropped (5.6.1), each coding a case-insensitive token (8.4.1)."""
    codings: list[str] = []
    for name, value in headers:
        if name.lower() != "content-encoding":
            continue
        codings.extend(t.strip().lower() for t in value.split(",") if t.strip())
    return codings


def check_compression(obs: SseObservation) -> list[Finding]:
    if not obs.streamed:
        return []
    applied = [c for c in content_codings(obs.headers) if c not in UNENCODED]
    if not applied:
        return []
    shown = ", ".join(applied)
    return [finding("compressed-stream",
                    f"Content-Encoding: {shown}. Compressors hold output until their block "
                    "fills unless the server flushes after every event.",
                    content_encoding=shown)]


def check_delayed_headers(obs: SseObservation) -> list[Finding]:
    if not obs.streamed or obs.headers_ms is None or obs.ttfb_ms is None:
        return []
    if obs.headers_ms < DELAYED_HEADERS_MS:
        return []
    if obs.ttfb_ms - obs.headers_ms > HEAD_AND_BODY_TOGETHER_MS:
        return []
    return [finding(
        "delayed-headers",
        f"The status line and headers arrived only after {obs.headers_ms:.0f} ms, together "
        f"with the first body bytes ({obs.ttfb_ms:.0f} ms): the server held them back until "
        "its first event, so a browser's EventSource 'open' fired that late.",
        headers_ms=round(obs.headers_ms, 1), ttfb_ms=round(obs.ttfb_ms, 1))]


def check_http_version(obs: SseObservation) -> list[Finding]:
    if not obs.http2_offered or obs.http_version != "HTTP/1.1" or not obs.streamed:
        return []
    return [finding("http1-only",
                    "HTTP/2 was offered (--http2) but the server answered over HTTP/1.1; "
                    "a browser allows only 6 such connections per origin.",
                    http_version=obs.http_version)]
