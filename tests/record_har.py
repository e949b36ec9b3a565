"""Records fixtures/har/chromium-*.har: real captures of Chromium running two small pages
against a local server, saved by Playwright's HAR recorder.

    pip install playwright   # the Python package only; it drives Debian's /usr/bin/chromium
    python tests/record_har.py

- chromium-leaky-tab.har: a page that opens a new EventSource every 200 ms and never closes
  one (12 in all). Chromium keeps 6 HTTP/1.1 connections per origin, so the 7th and later
  wait for a slot: the capture shows 6 streams open at once, then the queue.
- chromium-no-backoff.har: one EventSource to a stream that sends `retry: 100`, one event,
  and ends. The browser reconnects after each end, 100 ms later, every time: it never backs
  off on its own.

Not run by the tests (they need no browser): the captures are committed and replayed by
tests/test_har.py.
"""

from __future__ import annotations

import pathlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "har"
CHROMIUM = "/usr/bin/chromium"

PAGES = {
    "/leaky-tab": b"""<!doctype html><title>leaky tab</title><script>
let n = 0;
const t = setInterval(() => { new EventSource('/events'); if (++n >= 12) clearInterval(t); }, 200);
</script>""",
    "/no-backoff": b"""<!doctype html><title>no backoff</title><script>
new EventSource('/short');
</script>""",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _head(self, status: int, ctype: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path in PAGES:
            body = PAGES[self.path]
            self._head(200, "text/html", len(body))
            self.wfile.write(body)
            return
        if self.path == "/events":  # 3 s of ticks, then the end
            self._head(200, "text/event-stream")
            try:
                for i in range(30):
                    self.wfile.write(f"data: {i}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            self.close_connection = True
            return
        if self.path == "/short":
            self._head(200, "text/event-stream")
            self.wfile.write(b"retry: 100\ndata: done\n\n")
            self.close_connection = True
            return
        self._head(404, "text/plain", 0)


def main() -> None:
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for name, path in (("chromium-leaky-tab", "/leaky-tab"),
                           ("chromium-no-backoff", "/no-backoff")):
            ctx = browser.new_context(record_har_path=str(OUT / f"{name}.har"),
                                      record_har_content="omit")
            page = ctx.new_page()
            page.goto(base + path)
            page.wait_for_timeout(4000)
            ctx.close()
            print(f"wrote {OUT / name}.har")
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
