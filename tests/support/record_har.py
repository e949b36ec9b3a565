"""Records fixtures/har/chromium-*.har: real captures of Chromium on the lab's browser pages
(sse_doctor/lab/browser_routes.py), saved by Playwright's HAR recorder.

    pip install playwright   # the Python package only; it drives Debian's /usr/bin/chromium
    python -m tests.support.record_har

- chromium-leaky-tab.har (/browser/leaky-tab): a new EventSource every 200 ms, never closed,
  12 in all. Chromium keeps 6 HTTP/1.1 connections per origin, so the 7th and later wait
  for a slot: the capture shows them all open at once, the last never served.
- chromium-double-socket.har (/browser/double-socket): two WebSockets to one URL from one
  page, both open until the capture ends.
- chromium-no-backoff.har (/browser/no-backoff): one EventSource on a stream that sends
  `retry: 100`, one event, and ends. The browser reopens it 100 ms after each end, every
  time: it never backs off on its own.

Not run by the tests (they need no browser): the captures are committed and replayed by
tests/unit/test_har.py.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from sse_doctor.lab import LabServer  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "har"
CHROMIUM = "/usr/bin/chromium"
CAPTURE_MS = 4000


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with LabServer() as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for name in ("leaky-tab", "no-backoff", "double-socket"):
            har = OUT / f"chromium-{name}.har"
            ctx = browser.new_context(record_har_path=str(har), record_har_content="omit")
            page = ctx.new_page()
            page.goto(lab.url(f"/browser/{name}"))
            page.wait_for_timeout(CAPTURE_MS)
            ctx.close()
            print(f"wrote {har}")
        browser.close()


if __name__ == "__main__":
    main()
