"""Lab pages for a real browser: each runs client code with a known stream bug against the
lab, so a HAR saved from it shows what `sse-doctor har` diagnoses. (The other lab routes
misbehave as servers; these misbehave as clients.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .sse_routes import EventWriter, LabStream, healthy_body, sse_headers

# Chromium keeps 6 HTTP/1.1 connections per origin: 12 streams show 6 open and a queue.
LEAKY_TAB_STREAMS = 12
LEAKY_TAB_EVERY_MS = 200
NO_BACKOFF_RETRY_MS = 100
STACKED_MOUNTS = 2
STACKED_STREAM_MS = 300
STACKED_RECONNECT_MS = 100


@dataclass(frozen=True)
class BrowserPage:
    path: str
    models: str
    expect: tuple[str, ...]  # what `sse-doctor har` finds in a HAR of the page


PAGES = (
    BrowserPage("/browser/leaky-tab",
                f"opens a new EventSource every {LEAKY_TAB_EVERY_MS} ms and never closes one",
                ("concurrent-streams",)),
    BrowserPage("/browser/double-socket",
                "a chat widget mounted twice: two WebSockets to /ws/healthy-echo at once",
                ("concurrent-streams",)),
    BrowserPage("/browser/no-backoff",
                f"one EventSource on a stream that says retry: {NO_BACKOFF_RETRY_MS} and ends: "
                "the browser reopens it every 100 ms",
                ("reconnect-without-backoff",)),
    BrowserPage("/browser/stacked-timers",
                f"a live widget mounted {STACKED_MOUNTS} times, each with its own reconnect "
                f"loop: every stream ends after {STACKED_STREAM_MS} ms and is reopened "
                f"{STACKED_RECONNECT_MS} ms later by a timer, never backing off; the loops "
                "interleave, so there are always two streams open",
                ("concurrent-streams", "reconnect-without-backoff")),
    BrowserPage("/browser/singleton",
                "a correct client: two widgets share one EventSource (a module singleton) and "
                "reconnect with exponential backoff",
                ()),
)


def _page(title: str, script: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>{title}</title>"
                        f"<h1>{title}</h1><p id=log></p><script>{script}</script>")


async def leaky_tab(request: Request) -> Response:
    return _page("leaky tab", f"""
let n = 0;
const t = setInterval(() => {{
  const es = new EventSource('/browser/leaky-tab/events');  // never closed
  es.onmessage = (e) => {{ document.getElementById('log').textContent = e.data; }};
  if (++n >= {LEAKY_TAB_STREAMS}) clearInterval(t);
}}, {LEAKY_TAB_EVERY_MS});""")


async def leaky_tab_events(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter()), headers=sse_headers())


async def double_socket(request: Request) -> Response:
    return _page("double socket", """
const url = location.origin.replace(/^http/, 'ws') + '/ws/healthy-echo';
for (const widget of ['header', 'sidebar']) {  // each mount opens its own socket
  const ws = new WebSocket(url);
  ws.onopen = () => ws.send(widget);
}""")


async def no_backoff(request: Request) -> Response:
    return _page("no backoff", """
const es = new EventSource('/browser/no-backoff/events');
es.onmessage = (e) => { document.getElementById('log').textContent = e.data; };""")


async def no_backoff_events(request: Request) -> Response:
    body = f"retry: {NO_BACKOFF_RETRY_MS}\ndata: done\n\n".encode()
    return Response(body, headers=sse_headers(), media_type="text/event-stream")


async def stacked_timers(request: Request) -> Response:
    return _page("stacked timers", f"""
function connect() {{  // the widget's own reconnect loop: a timer, no backoff
  const es = new EventSource('/browser/stacked-timers/events');
  es.onmessage = (e) => {{ document.getElementById('log').textContent = e.data; }};
  es.onerror = () => {{ es.close(); setTimeout(connect, {STACKED_RECONNECT_MS}); }};
}}
for (let i = 0; i < {STACKED_MOUNTS}; i++) connect();  // mounted twice: two loops""")


async def stacked_timers_events(request: Request) -> Response:
    async def body():  # noqa: ANN202 - an async generator of bytes
        yield b"data: hello\n\n"
        await asyncio.sleep(STACKED_STREAM_MS / 1000)

    return LabStream(body(), headers=sse_headers())


async def singleton(request: Request) -> Response:
    return _page("singleton", """
let shared = null, delay = 1000;
function stream() {  // every widget gets the one EventSource of the page
  if (shared && shared.readyState !== EventSource.CLOSED) return shared;
  shared = new EventSource('/browser/singleton/events');
  shared.onopen = () => { delay = 1000; };
  shared.onerror = () => {
    if (shared.readyState === EventSource.CLOSED) {  // the browser gave up: back off
      setTimeout(stream, delay); delay = Math.min(delay * 2, 60000);
    }
  };
  return shared;
}
for (const widget of ['header', 'sidebar']) {
  stream().addEventListener('tick', (e) => {
    document.getElementById('log').textContent = widget + ' ' + e.data; });
}""")


async def singleton_events(request: Request) -> Response:
    return LabStream(healthy_body(EventWriter()), headers=sse_headers())


def browser_routes() -> list[Route]:
    return [
        Route("/browser/leaky-tab", leaky_tab, methods=["GET"]),
        Route("/browser/leaky-tab/events", leaky_tab_events, methods=["GET"]),
        Route("/browser/double-socket", double_socket, methods=["GET"]),
        Route("/browser/no-backoff", no_backoff, methods=["GET"]),
        Route("/browser/no-backoff/events", no_backoff_events, methods=["GET"]),
        Route("/browser/stacked-timers", stacked_timers, methods=["GET"]),
        Route("/browser/stacked-timers/events", stacked_timers_events, methods=["GET"]),
        Route("/browser/singleton", singleton, methods=["GET"]),
        Route("/browser/singleton/events", singleton_events, methods=["GET"]),
    ]
